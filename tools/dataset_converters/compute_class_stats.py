# Copyright (c) mmltml contributors. All rights reserved.
"""Compute the class statistics of a training list file and save them.

Writes the JSON read by ``mmltml.datasets.load_class_stats`` (class
frequencies, negative frequencies, conditional co-occurrence, head / medium
/ tail groups) and prints the group table.

Examples:
    python tools/dataset_converters/compute_class_stats.py \\
        data/coco/coco_lt_train.txt --labels data/coco/coco_labels.txt \\
        --out data/coco/coco_lt_class_stats.json
"""
import argparse

from mmltml.datasets import load_class_stats
from mmltml.structures import (HEAD_THR, TAIL_THR, format_class_stats,
                               save_class_stats)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('train_list', help='<image path> <label ids...> file')
    parser.add_argument(
        '--labels',
        help="label file (<name> <index>) or preset 'coco-lt' / 'voc-lt'")
    parser.add_argument(
        '--num-classes', type=int, help='number of classes (if no --labels)')
    parser.add_argument(
        '--head',
        type=int,
        default=HEAD_THR,
        help=f'head: n >= HEAD ({HEAD_THR})')
    parser.add_argument(
        '--tail',
        type=int,
        default=TAIL_THR,
        help=f'tail: n < TAIL ({TAIL_THR})')
    parser.add_argument('--out', required=True, help='output .json')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.labels is None and args.num_classes is None:
        raise SystemExit('give --labels or --num-classes')
    if not args.out.endswith('.json'):
        raise SystemExit(f'--out must be a .json file, got {args.out}')
    ref = dict(ann_file=args.train_list, label_file=args.labels)
    if args.num_classes is not None:
        ref['num_classes'] = args.num_classes
    stats = load_class_stats(ref, head_thr=args.head, tail_thr=args.tail)
    save_class_stats(stats, args.out)
    print(format_class_stats(stats))
    print(f'saved to {args.out}')


if __name__ == '__main__':
    main()
