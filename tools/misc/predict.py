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

Zero-shot, for any class names and any open_clip model, without a config
(``--classes`` or ``--classes-file`` instead of the config and the
checkpoint; the model of the zero-shot configs, see
:class:`mmltml.apis.ZeroShotInferencer`)::

    python tools/misc/predict.py --classes "cat,dog,traffic light" \
        --clip-model ViT-B-16-quickgelu --clip-pretrained openai demo.jpg
    python tools/misc/predict.py --classes-file data/synthetic/labels.txt \
        --clip-model-cfg tinyclip-synthetic \
        --clip-pretrained checkpoints/tinyclip_synthetic.pth \
        data/synthetic/test/000000.png --topk 3
"""
import argparse
import contextlib
import json
import sys
from typing import List, Optional, Sequence

import mmltml  # noqa: F401  (compat fixes, registration)
from mmltml.apis import MultiLabelInferencer, ZeroShotInferencer
from mmltml.apis.zero_shot_inferencer import DEFAULT_TEMPLATES
from mmltml.datasets.categories import read_class_names_file


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


def parse_zero_shot_args(argv: Sequence[str]) -> argparse.Namespace:
    """Arguments of zero-shot prediction (``--classes`` / ``--classes-file``
    given): images, class names and the open_clip model."""
    parser = argparse.ArgumentParser(
        description='Zero-shot multi-label predictions for class names')
    parser.add_argument('images', nargs='+', help='image files')
    names = parser.add_mutually_exclusive_group(required=True)
    names.add_argument('--classes', help='comma-separated class names')
    names.add_argument(
        '--classes-file', help='file of class names, one per line (or a '
        'dataset label file of "<name> <index>" lines)')
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument('--clip-model', help='open_clip model name, e.g. '
                       'ViT-B-16-quickgelu')
    model.add_argument(
        '--clip-model-cfg', help='a built-in CLIP config name '
        '(tinyclip-synthetic) or a JSON file of an open_clip model config')
    parser.add_argument(
        '--clip-pretrained', help='pretrained tag of --clip-model (openai, '
        'laion2b_s34b_b88k, ...) or a local weights file')
    parser.add_argument(
        '--template', action='append', dest='templates',
        help='prompt template with {} for the class name; repeat to '
        f'average several (default: {DEFAULT_TEMPLATES[0]!r})')
    parser.add_argument('--thr', type=float, default=0.5,
                        help='score threshold (sigmoid) of a positive')
    parser.add_argument('--topk', type=int, help='report the k best classes')
    parser.add_argument('--device', default=None, help='e.g. cuda:0')
    parser.add_argument('--json', action='store_true', help='print JSON')
    return parser.parse_args(argv)


def zero_shot_requested(argv: Sequence[str]) -> bool:
    """Whether the command line asks for zero-shot prediction."""
    return any(arg.split('=')[0] in ('--classes', '--classes-file')
               for arg in argv)


def _clip_model_cfg(spec: Optional[str]):
    """A built-in CLIP config name, or the dict of a JSON file."""
    if spec is None or not spec.endswith('.json'):
        return spec
    with open(spec) as f:
        return json.load(f)


def _class_names(args: argparse.Namespace) -> List[str]:
    if args.classes_file is not None:
        return read_class_names_file(args.classes_file)
    return [name.strip() for name in args.classes.split(',')
            if name.strip()]


def _print_result(image: str, result: dict, as_json: bool) -> None:
    """One image's predictions: a JSON line or ``image: name (...), ...``."""
    names = result.get('pred_classes', result['pred_labels'])
    logits = result.get('pred_label_logits', [None] * len(names))
    triples = list(zip(names, result['pred_label_scores'], logits))
    if as_json:
        print(json.dumps(dict(image=image, predictions=triples)))
    else:
        shown = ', '.join(_format(*t) for t in triples)
        print(f'{image}: {shown or "(no class above threshold)"}')


def zero_shot_main(argv: Sequence[str]) -> None:
    """Zero-shot predictions for class names (see the module docstring)."""
    args = parse_zero_shot_args(argv)
    with contextlib.redirect_stdout(sys.stderr):  # the loading log
        inferencer = ZeroShotInferencer(
            _class_names(args), clip_model_name=args.clip_model,
            clip_pretrained=args.clip_pretrained,
            clip_model_cfg=_clip_model_cfg(args.clip_model_cfg),
            templates=args.templates or DEFAULT_TEMPLATES,
            device=args.device, thr=args.thr, topk=args.topk)
    predict_and_print(inferencer, args.images, args.json)


def predict_and_print(inferencer: MultiLabelInferencer,
                      images: Sequence[str], as_json: bool) -> None:
    """Predict ``images`` one by one and print each result; an image that
    fails is named on stderr, and the exit status is 1 if any did."""
    if inferencer.resize_note:
        print(f'note: {inferencer.resize_note}', file=sys.stderr)
    failed = 0
    for idx, (image, result, error) in enumerate(
            inferencer.predict_each(images), 1):
        if error is not None:
            failed += 1
            print(f'error: image {image} (argument {idx} of the images) '
                  f'{error}', file=sys.stderr)
            continue
        _print_result(image, result, as_json)
    if failed:
        sys.exit(f'error: {failed} of {len(images)} images could not '
                 'be predicted (see above); the others were predicted')


def main() -> None:
    if zero_shot_requested(sys.argv[1:]):
        return zero_shot_main(sys.argv[1:])
    args = parse_args()
    pretrained = False if args.checkpoint == 'none' else args.checkpoint
    with contextlib.redirect_stdout(sys.stderr):  # mmengine's loading log
        inferencer = MultiLabelInferencer(
            args.config, pretrained=pretrained, device=args.device,
            thr=args.thr, topk=args.topk)
    predict_and_print(inferencer, args.images, args.json)


if __name__ == '__main__':
    main()
