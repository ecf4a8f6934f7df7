# Copyright (c) mmltml contributors. All rights reserved.
"""Generate the built-in synthetic long-tailed multi-label benchmark.

Example::

    python tools/dataset_converters/generate_synthetic.py \
        --out data/synthetic --seed 0

A large label space (``configs/synthetic/lmpt_tinyclip_synthetic-2k.py``:
the first 2,000 classes of the 2,080-class vocabulary, Zipf long tail)::

    python tools/dataset_converters/generate_synthetic.py \
        --out data/synthetic-2k --num-classes 2000 --profile zipf \
        --max-train-count 400 --min-train-count 1 --test-per-class 2
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
    parser.add_argument(
        '--num-classes',
        type=int,
        help='classes of the large vocabulary (up to 2,080); default: the '
        '24 "<colour> <shape>" classes')
    parser.add_argument(
        '--profile',
        choices=['exponential', 'zipf'],
        default='exponential',
        help='long-tailed profile of the training counts')
    return parser.parse_args()


#: Classes listed by the summary (the most and least frequent halves).
SHOWN_CLASSES = 40


def print_summary(meta: dict) -> None:
    """Print the per-class train/test counts and the group sizes."""
    names = class_names(meta.get('num_classes'))
    train, test = meta['train_class_counts'], meta['test_class_counts']
    group_of = {
        idx: name
        for name, members in split_groups(train).items() for idx in members
    }
    order = sorted(range(len(names)), key=lambda i: -train[i])
    if len(order) > SHOWN_CLASSES:  # the most and the least frequent
        half = SHOWN_CLASSES // 2
        order = order[:half] + [None] + order[-half:]
    wid, wname = max(3, len(str(len(names)))), max(16, *map(len, names)) + 2
    print(f"{'id':>{wid}}  {'class':<{wname}}{'train':>6}{'test':>6}  group")
    for i in order:
        if i is None:
            print(f'{"...":>{wid}}')
            continue
        print(f'{i:>{wid}}  {names[i]:<{wname}}{train[i]:>6}{test[i]:>6}  '
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
        test_per_class=args.test_per_class,
        num_classes=args.num_classes,
        profile=args.profile)
    print_summary(meta)
    print(f"written to {meta['out_dir']} in {time.time() - start:.1f} s "
          '(reused when the parameters match)')


if __name__ == '__main__':
    main()
