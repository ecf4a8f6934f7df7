# Copyright (c) mmltml contributors. All rights reserved.
"""Print multi-label predictions (class names and scores) for images.

Classes whose sigmoid score reaches ``--thr`` (or the ``--topk`` best) are
listed highest logit first, each with its raw logit and its sigmoid score:
CLIP logits (``100 * cos``, about 15-35) all have an fp32 sigmoid of 1.0, so
the logits are what tells them apart. ``--json`` prints
``[name, sigmoid score, logit]`` triples.

Images are predicted one by one: an image that cannot be predicted
(missing, undecodable, too small for the model, too large for the memory)
is reported on stderr with its name and size, the others are still
predicted, and the exit status is 1. A checkpoint that does not fit the
config is refused, naming the keys and shapes. Configs whose test pipeline
has no ``Resize`` (datasets whose images all have one size) get one to the
model's input size, if it has one (CLIP image towers); a note says so.

Example::

    python tools/misc/predict.py configs/lmpt/lmpt_vitb16_coco-lt.py \
        work_dirs/lmpt_vitb16_coco-lt/epoch_30.pth demo.jpg --thr 0.5
"""
import argparse
import contextlib
import json
import sys
from typing import Optional

import mmltml  # noqa: F401  (compat fixes, registration)
from mmltml.apis import MultiLabelInferencer


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


def _format(name: str, score: float, logit: Optional[float]) -> str:
    """``name (logit 23.412, sigmoid 1.000000)``."""
    if logit is None:
        return f'{name} (sigmoid {score:.6f})'
    return f'{name} (logit {logit:.3f}, sigmoid {score:.6f})'


def main() -> None:
    args = parse_args()
    pretrained = False if args.checkpoint == 'none' else args.checkpoint
    with contextlib.redirect_stdout(sys.stderr):  # mmengine's loading log
        inferencer = MultiLabelInferencer(
            args.config, pretrained=pretrained, device=args.device,
            thr=args.thr, topk=args.topk)
    if inferencer.resize_note:
        print(f'note: {inferencer.resize_note}', file=sys.stderr)
    failed = 0
    for idx, (image, result, error) in enumerate(
            inferencer.predict_each(args.images), 1):
        if error is not None:
            failed += 1
            print(f'error: image {image} (argument {idx} of the images) '
                  f'{error}', file=sys.stderr)
            continue
        names = result.get('pred_classes', result['pred_labels'])
        logits = result.get('pred_label_logits', [None] * len(names))
        triples = list(zip(names, result['pred_label_scores'], logits))
        if args.json:
            print(json.dumps(dict(image=image, predictions=triples)))
        else:
            shown = ', '.join(_format(*t) for t in triples)
            print(f'{image}: {shown or "(no class above threshold)"}')
    if failed:
        sys.exit(f'error: {failed} of {len(args.images)} images could not '
                 'be predicted (see above); the others were predicted')


if __name__ == '__main__':
    main()
