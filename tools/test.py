# Copyright (c) mmltml contributors. All rights reserved.
"""Test (and evaluate) a checkpoint (mmpretrain's tool, made to work on
current torch and on CPU-only machines; see ``mmltml.utils.launch``)."""
import argparse
import copy

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)
import mmengine
from mmengine.config import Config, ConfigDict
from mmengine.evaluator import DumpResults

from mmltml.utils.checkpoint_stats import apply_checkpoint_class_stats
from mmltml.utils.compat import explain_refused_checkpoint
from mmltml.utils.data_files import check_data_files
from mmltml.utils.launch import (add_common_args, build_runner, finish_args,
                                 finish_distributed, set_dataloader_defaults,
                                 set_work_dir)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help="checkpoint file; omit it (or 'none') to test the weights the "
        'config builds (e.g. zero-shot CLIP)')
    parser.add_argument('--out', help='the file to write results to')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='write metrics or predictions (default) to --out')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision test (GPU)')
    parser.add_argument(
        '--show-dir', help='save images with their predictions here')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualize every N samples')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='seconds each window is shown (--show)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation: the config's tta_model / tta_pipeline, "
        'or else the average score of the image and its horizontal flip')
    add_common_args(parser)
    args = parser.parse_args()
    finish_args(args)
    if args.checkpoint == 'none':
        args.checkpoint = None
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def set_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Enable the config's VisualizationHook as mmpretrain's tool does."""
    if 'visualization' not in cfg.get('default_hooks', {}):
        raise ValueError(
            f'{args.config}: --show / --show-dir need a VisualizationHook '
            "in default_hooks (visualization=dict(type='VisualizationHook'))")
    cfg.default_hooks.visualization.update(
        enable=True, show=args.show, wait_time=args.wait_time,
        out_dir=args.show_dir, interval=args.interval)


def set_tta(cfg: Config, config_path: str) -> None:
    """Wrap the model in the config's ``tta_model`` (default:
    ``AverageLogitsTTA``, the mean of the views' scores and logits) and test with ``tta_pipeline`` (default: the image and its
    horizontal flip), as mmpretrain's tool does."""
    dataset = cfg.test_dataloader.dataset
    if 'pipeline' not in dataset:
        raise ValueError(
            f'{config_path}: --tta needs a test dataset with an image '
            f'pipeline; {dataset.type} tests on cached features')
    cfg.setdefault('tta_model', dict(type='AverageLogitsTTA'))
    if 'tta_pipeline' not in cfg:
        pipeline = copy.deepcopy(dataset.pipeline)
        pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[dict(type='RandomFlip', prob=1.),
                         dict(type='RandomFlip', prob=0.)],
                        [dataset.pipeline[-1]]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge CLI arguments into the config."""
    cfg.launcher = args.launcher
    set_work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir is not None:
        set_visualization(cfg, args)
    if args.tta:
        set_tta(cfg, args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    set_dataloader_defaults(cfg, args.no_pin_memory)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    with explain_refused_checkpoint(args.checkpoint):
        # class statistics of a missing training list file: the checkpoint's
        apply_checkpoint_class_stats(cfg, args.checkpoint)
    check_data_files(cfg, ['test_dataloader', 'test_evaluator', 'model'])
    runner = build_runner(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    with explain_refused_checkpoint(args.checkpoint):
        metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    del runner  # its DDP wrapper holds the process group
    finish_distributed()


if __name__ == '__main__':
    main()
