# Copyright (c) mmltml contributors. All rights reserved.
"""Draw a long-tailed training split from any multi-label list file.

The way the DB-loss authors built COCO-LT and VOC-LT (Pareto-distributed
class sizes, images drawn one by one with all their labels), seeded and
reproducible: the same input and seed give byte-identical files. Writes the
list, label file, captions (with ``--captions``), class statistics, head /
medium / tail groups, a description of the draw and a sha256 manifest
(:mod:`mmltml.datasets.make_lt_split`), and prints the achieved class-size
curve against the target. A class with fewer images than its target is
refused, by name.

Examples:
    # a COCO-LT-like split of all COCO train2017 images
    python tools/dataset_converters/coco_to_list.py \\
        data/coco/annotations/instances_train2017.json \\
        --img-prefix train2017 --out data/coco/coco_full_train.txt \\
        --labels-out data/coco/coco_labels.txt
    python tools/dataset_converters/make_lt_split.py \\
        data/coco/coco_full_train.txt --labels data/coco/coco_labels.txt \\
        --out-dir data/coco --prefix my_coco_lt --max-count 1200 --seed 0
"""
import argparse

from mmltml.datasets.make_lt_split import format_curve, make_lt_split
from mmltml.structures import HEAD_THR, TAIL_THR
from mmltml.structures.lt_split import ORDERS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('list_file', help='full <image path> <ids...> list')
    parser.add_argument(
        '--labels', required=True,
        help='label file (<name> <index>) or a preset such as coco-lt')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--prefix', default='lt', help='output file prefix')
    parser.add_argument('--captions', help='caption file of the full list')
    parser.add_argument('--max-count', type=int, default=1200,
                        help='images of the largest class (default 1200)')
    parser.add_argument('--min-count', type=int, default=1,
                        help='lower end of the curve (default 1)')
    parser.add_argument('--shape', type=float, default=6.0,
                        help='Pareto shape (default 6)')
    parser.add_argument('--quantile', type=float, default=0.99,
                        help='upper quantile of the curve (default 0.99)')
    parser.add_argument('--order', choices=ORDERS, default='frequency',
                        help='which class gets the largest target')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--head', type=int, default=HEAD_THR,
                        help=f'head: n >= HEAD ({HEAD_THR})')
    parser.add_argument('--tail', type=int, default=TAIL_THR,
                        help=f'tail: n < TAIL ({TAIL_THR})')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    split = make_lt_split(
        args.list_file, args.labels, args.out_dir, args.prefix,
        max_count=args.max_count, min_count=args.min_count,
        shape=args.shape, quantile=args.quantile, order=args.order,
        seed=args.seed, head_thr=args.head, tail_thr=args.tail,
        caption_file=args.captions)
    print(format_curve(split))
    print('written: ' + ', '.join(sorted(split.files.values())))


if __name__ == '__main__':
    main()
