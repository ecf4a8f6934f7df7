# Copyright (c) mmltml contributors. All rights reserved.
"""Test (and evaluate) a checkpoint (mmpretrain's tool, made to work on
current torch and on CPU-only machines; see ``mmltml.utils.launch``)."""
import argparse

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)
import mmengine
from mmengine.config import Config
from mmengine.evaluator import DumpResults

from mmltml.utils.compat import trust_checkpoint
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
    add_common_args(parser)
    args = parser.parse_args()
    finish_args(args)
    if args.checkpoint == 'none':
        args.checkpoint = None
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge CLI arguments into the config."""
    cfg.launcher = args.launcher
    set_work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    set_dataloader_defaults(cfg, args.no_pin_memory)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_data_files(cfg, ['test_dataloader', 'test_evaluator', 'model'])
    trust_checkpoint(args.checkpoint)  # the user named this file
    runner = build_runner(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    finish_distributed()


if __name__ == '__main__':
    main()
