# Copyright (c) mmltml contributors. All rights reserved.
"""Peak memory and time of GroupMAP over many classes and images.

Feeds ``GroupMAP.process`` with synthetic test batches (fp32 logits rows
and long-tailed label lists, :mod:`mmltml.benchmarks.group_map_scale`) and
runs ``evaluate``; prints the time of both phases, the resident memory
after feeding, the peak RSS (reset after the imports) and the size of the
scores themselves (``classes x images x 4`` bytes, what any exact
evaluation must hold).

Example (the figure of ``docs/benchmarks.md``)::

    python tools/analysis_tools/benchmark_group_map.py \\
        --classes 10000 --images 100000 --out work_dirs/group_map.json
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Peak memory and time of GroupMAP at scale.')
    parser.add_argument('--classes', type=int, default=10000)
    parser.add_argument('--images', type=int, default=100000)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    from mmltml.benchmarks.group_map_scale import measure_group_map
    from mmltml.benchmarks.machine import machine_info
    result, metrics = measure_group_map(args.classes, args.images,
                                        args.batch_size, args.seed)
    result.update(metrics=metrics,
                  command=' '.join([sys.executable] + sys.argv),
                  machine=machine_info(torch.device('cpu')))
    print(f'GroupMAP, {args.classes:,} classes x {args.images:,} images: '
          f'process {result["process_s"]:.1f} s, evaluate '
          f'{result["evaluate_s"]:.1f} s; RSS after process '
          f'{result["rss_after_process_mib"]:.0f} MiB, peak '
          f'{result["peak_rss_mib"]:.0f} MiB (scores alone '
          f'{result["scores_mib"]:.0f} MiB); metrics {metrics}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'results written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
