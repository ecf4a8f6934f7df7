# Copyright (c) mmltml contributors. All rights reserved.
"""Print multi-label predictions (class names and scores) for images.

Example::

    python tools/misc/predict.py configs/lmpt/lmpt_vitb16_coco-lt.py \
        work_dirs/lmpt_vitb16_coco-lt/epoch_30.pth demo.jpg --thr 0.5
"""
import argparse
import contextlib
import json
import sys

import mmltml  # noqa: F401  (compat fixes, registration)
from mmltml.apis import MultiLabelInferencer
from mmltml.datasets.image_check import iter_image_problems


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint', help="checkpoint file, or 'none' to use the weights "
        'the config builds (zero-shot CLIP)')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--thr', type=float, default=0.5,
                        help='score threshold (sigmoid) of a positive')
    parser.add_argument('--topk', type=int, help='report the k best classes')
    parser.add_argument('--device', default=None, help='e.g. cuda:0')
    parser.add_argument('--json', action='store_true', help='print JSON')
    return parser.parse_args()


def check_images(paths) -> int:
    """Print each unreadable image (missing, empty, undecodable, truncated)
    to stderr, naming it; return how many there are."""
    bad = [(idx, path, problem) for idx, (path, problem) in enumerate(
        iter_image_problems(paths), 1) if problem]
    for idx, path, problem in bad:
        print(f'error: image {path} (argument {idx} of the images) '
              f'{problem}', file=sys.stderr)
    return len(bad)


def main() -> None:
    args = parse_args()
    if check_images(args.images):
        sys.exit(1)
    pretrained = False if args.checkpoint == 'none' else args.checkpoint
    inferencer = MultiLabelInferencer(args.config, pretrained=pretrained,
                                      device=args.device, thr=args.thr,
                                      topk=args.topk)
    with contextlib.redirect_stdout(sys.stderr):  # the progress bar
        results = inferencer(args.images)
    for image, result in zip(args.images, results):
        pairs = list(zip(result.get('pred_classes', result['pred_labels']),
                         result['pred_label_scores']))
        if args.json:
            print(json.dumps(dict(image=image, predictions=pairs)))
        else:
            shown = ', '.join(f'{name} ({score:.3f})' for name, score in pairs)
            print(f'{image}: {shown or "(no class above threshold)"}')


if __name__ == '__main__':
    main()
