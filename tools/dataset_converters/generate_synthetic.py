# Copyright (c) mmltml contributors. All rights reserved.
"""Generate the built-in synthetic long-tailed multi-label benchmark.

Example::

    python tools/dataset_converters/generate_synthetic.py \
        --out data/synthetic --seed 0
"""
import argparse
import time

from mmltml.benchmarks.synthetic import class_names, generate_synthetic_lt
from mmltml.structures import split_groups


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic LT multi-label benchmark '
        '(COCO-LT file formats).')
    parser.add_argument(
        '--out',
        default='data/synthetic',
        help='output directory (the data_root)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument(
        '--max-train-count',
        type=int,
        default=400,
        help='training images of the most frequent class')
    parser.add_argument(
        '--min-train-count',
        type=int,
        default=4,
        help='training images of the least frequent class')
    parser.add_argument('--test-per-class', type=int, default=80)
    return parser.parse_args()


def print_summary(meta: dict) -> None:
    """Print the per-class train/test counts and the group sizes."""
    names = class_names()
    train, test = meta['train_class_counts'], meta['test_class_counts']
    group_of = {
        idx: name
        for name, members in split_groups(train).items() for idx in members
    }
    print(f"{'id':>3}  {'class':<16}{'train':>6}{'test':>6}  group")
    for i in sorted(range(len(names)), key=lambda i: -train[i]):
        print(f'{i:>3}  {names[i]:<16}{train[i]:>6}{test[i]:>6}  '
              f'{group_of[i]}')
    groups = meta['groups']
    print(f"images: {meta['num_train_images']} train, "
          f"{meta['num_test_images']} test; classes: {len(names)} "
          f"(head {groups['head']}, medium {groups['medium']}, "
          f"tail {groups['tail']})")


def main() -> None:
    args = parse_args()
    start = time.time()
    meta = generate_synthetic_lt(
        args.out,
        seed=args.seed,
        image_size=args.image_size,
        max_train_count=args.max_train_count,
        min_train_count=args.min_train_count,
        test_per_class=args.test_per_class)
    print_summary(meta)
    print(f"written to {meta['out_dir']} in {time.time() - start:.1f} s "
          '(reused when the parameters match)')


if __name__ == '__main__':
    main()
