# Copyright (c) mmltml contributors. All rights reserved.
"""Train a model from an mmengine config (mmpretrain's tool, made to work
on current torch and on CPU-only machines; see ``mmltml.utils.launch``)."""
import argparse
import sys

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)
from mmengine.config import Config

from mmltml.utils.compat import explain_refused_checkpoint
from mmltml.utils.data_files import check_data_files
from mmltml.utils.dataset_cfg import check_feature_cache_hook
from mmltml.utils.launch import (add_common_args, build_runner, finish_args,
                                 finish_distributed, set_dataloader_defaults,
                                 set_work_dir)
from mmltml.utils.run_options import check_run_options, resume_note
from mmltml.utils.stage_cfg import check_previous_stage


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (no path) from the latest '
        'checkpoint in the work directory; with none there, the run starts '
        'from scratch and says so')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision training (GPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by actual / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in dataloaders')
    add_common_args(parser)
    args = parser.parse_args()
    finish_args(args)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge CLI arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    set_work_dir(cfg, args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    set_dataloader_defaults(cfg, args.no_pin_memory,
                            args.no_persistent_workers)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_previous_stage(cfg, args.config)
    sections = ['train_dataloader', 'model']
    if cfg.get('val_cfg') is not None:
        sections += ['val_dataloader', 'val_evaluator']
    try:  # one line that says what to do (--amp, schedule, --resume)
        check_run_options(cfg)
    except ValueError as error:
        sys.exit(f'error: {error}')
    check_data_files(cfg, sections)  # before a model is built
    check_feature_cache_hook(cfg)
    note = resume_note(cfg)
    runner = build_runner(cfg, lock_work_dir=True)
    if note:
        runner.logger.warning(note)
    with explain_refused_checkpoint(cfg.get('load_from') or
                                    f'the latest one in {cfg.work_dir}'):
        runner.train()
    del runner  # its DDP wrapper holds the process group
    finish_distributed()


if __name__ == '__main__':
    main()
