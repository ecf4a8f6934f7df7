# Copyright (c) mmltml contributors. All rights reserved.
"""Fingerprint every config's model, to show that a refactoring changed
no number.

For every config under ``<repo>/configs`` (``_base_`` parts excluded) the
tool records

* the resolved config (``Config.fromfile(...).to_dict()``), whole and its
  ``model`` part;
* the model built on the CPU with a fixed seed and initialised as the
  runner does (``init_weights``): the ``state_dict`` keys, shapes, dtypes
  and a SHA-1 of every value;
* on a fixed synthetic batch (random uint8 images, fixed labels and
  captions), seeded: every loss value of ``mode='loss'`` (as
  ``float.hex``), the SHA-1 of every parameter gradient of their sum, and
  the SHA-1 of ``pred_score`` / ``pred_logits`` of ``mode='predict'``.

Weights that cannot be had here are replaced, as in
``tests/test_tools/test_all_configs.py``: a CLIP named by a pretrained tag
or by a file that does not exist keeps its architecture with random
weights (``--tiny-clip``: becomes a tiny random CLIP, faster; a CLIP
config of the component's own is kept); ``Pretrained`` ``init_cfg``
entries and ``pretrained`` weights are dropped; a missing
``FileTextEmbeds`` file becomes ``RandomTextEmbeds``. Local weight files
that exist (``checkpoints/tinyclip_synthetic.pth``) are used. Models
without trainable parameters (zero-shot CLIP) record no gradients.

The tool uses only the registries and public model methods, so it
fingerprints any checkout: run it once per checkout, from a folder holding
the files the configs name by relative path (``data/coco`` and
``data/voc``: the list and label files of ``download_ltml.py``, no images
needed; ``data/synthetic``:
``tools/dataset_converters/generate_synthetic.py``; ``checkpoints/``),
then compare::

    cd WORKSPACE
    TOOL=/path/after/tools/analysis_tools/fingerprint_configs.py
    PYTHONPATH=/path/before python $TOOL fingerprint /path/before before.json
    PYTHONPATH=/path/after python $TOOL fingerprint /path/after after.json
    python $TOOL compare before.json after.json \\
        --rename 'head\\.text_embeds$=head.text_embeds.embeds' \\
        'head\\.text_encoder\\.=head.text_embeds.source.'

``compare`` prints every difference and exits with status 1 if there is
one; ``--rename OLD_REGEX=NEW`` maps renamed ``state_dict`` keys (and
gradient names) of the first file before comparing, and
``--ignore-config`` leaves the resolved configs out (list their
differences with ``--show-config``).
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import sys
import time
from typing import Dict, List

import torch

TINY_CLIP = dict(
    embed_dim=32,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=224),
    text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=2,
                  layers=1))
BATCH_LABELS = [[0], [1, 2], [0, 3], [2]]
CAPTIONS = ['a cat on a mat', 'two dogs and a red ball', 'a person',
            'a train near a bus stop']
CNN_IMAGE_SIZE = 224


def discover(repo: str) -> List[str]:
    """Config paths relative to ``repo``, ``_base_`` parts excluded."""
    root = osp.join(repo, 'configs')
    paths = glob.glob(osp.join(root, '**', '*.py'), recursive=True)
    return sorted(
        osp.relpath(p, repo) for p in paths
        if '_base_' not in osp.relpath(p, root).split(os.sep))


def use_stand_ins(node, clip_args: set, tiny_clip: bool) -> None:
    """Replace weights that cannot be had here, in place (see the module
    docstring). ``clip_args`` are the types whose constructor takes
    ``clip_pretrained``."""
    if isinstance(node, list):
        for item in node:
            use_stand_ins(item, clip_args, tiny_clip)
        return
    if not isinstance(node, dict):
        return
    if 'clip_pretrained' in node or node.get('type') in clip_args:
        weights = node.get('clip_pretrained', 'openai')
        if weights is None or not osp.isfile(str(weights)):
            node['clip_pretrained'] = None
            if tiny_clip and not node.get('clip_model_cfg'):
                node['clip_model_cfg'] = dict(TINY_CLIP)
                node['clip_model_name'] = None
    init_cfg = node.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        node['init_cfg'] = None
    elif isinstance(init_cfg, list):
        node['init_cfg'] = [
            c for c in init_cfg
            if not (isinstance(c, dict) and c.get('type') == 'Pretrained')
        ]
    if node.get('pretrained') not in (None, False):
        node['pretrained'] = (False if isinstance(node['pretrained'], bool)
                              else None)
    if (node.get('type') == 'FileTextEmbeds'
            and not osp.isfile(node.get('path', ''))):
        node.clear()
        node.update(type='RandomTextEmbeds', dims=TINY_CLIP['embed_dim'])
    for value in node.values():
        use_stand_ins(value, clip_args, tiny_clip)


def clip_taking_types() -> set:
    """Registered model types whose constructor takes ``clip_pretrained``."""
    import inspect

    from mmpretrain.registry import MODELS
    types = set()
    for name, cls in MODELS.module_dict.items():
        if inspect.isclass(cls) and 'clip_pretrained' in inspect.signature(
                cls.__init__).parameters:
            types.add(name)
    return types


def digest(tensor: torch.Tensor) -> str:
    """SHA-1 of a tensor's bytes (its dtype and shape are recorded apart)."""
    data = tensor.detach().cpu().contiguous()
    if data.dtype == torch.bfloat16:
        data = data.view(torch.int16)
    return hashlib.sha1(data.numpy().tobytes()).hexdigest()


def image_size(model: torch.nn.Module) -> int:
    """The input size of an open_clip image tower in ``model``, else a
    small size any CNN takes."""
    for module in model.modules():
        if type(module).__name__ in ('VisionTransformer', 'ModifiedResNet'):
            size = module.image_size
            return int(size[0] if isinstance(size, (tuple, list)) else size)
    return CNN_IMAGE_SIZE


def batch(model: torch.nn.Module, num_classes: int) -> dict:
    """The fixed synthetic batch, as a data loader hands it."""
    from mmpretrain.structures import DataSample
    size = image_size(model)
    generator = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                      generator=generator) for _ in BATCH_LABELS
    ]
    samples = []
    for labels, caption in zip(BATCH_LABELS, CAPTIONS):
        sample = DataSample(metainfo=dict(img_shape=(size, size)))
        sample.set_gt_label([c % num_classes for c in labels])
        sample.set_field(caption, 'caption')
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def fingerprint_model(cfg, tiny_clip: bool) -> dict:
    """Build, initialise and run the model of ``cfg`` (see the module
    docstring)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    use_stand_ins(model_cfg, clip_taking_types(), tiny_clip)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()
    state = {
        k: [list(v.shape), str(v.dtype), digest(v)]
        for k, v in model.state_dict().items()
    }
    num_classes = (model.head.num_classes if hasattr(
        model.head, 'num_classes') else len(model.backbone.classnames))
    model.train()
    torch.manual_seed(1)
    data = model.data_preprocessor(batch(model, num_classes), True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    if total.requires_grad:
        total.backward()
    grads = {
        name: digest(p.grad)
        for name, p in model.named_parameters() if p.grad is not None
    }
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch(model, num_classes), False)
        preds = model(**data, mode='predict')
    pred = {
        key: digest(torch.stack([s.get(key) for s in preds]))
        for key in ('pred_score', 'pred_logits') if key in preds[0]
    }
    return dict(
        state=state,
        losses={k: float(v.detach().float().mean()).hex()
                for k, v in losses.items()},
        grads=grads,
        pred=pred)


def fingerprint(repo: str, out: str, only: List[str],
                tiny_clip: bool) -> None:
    """Fingerprint every config of ``repo`` into the JSON file ``out``."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    import mmltml  # noqa: F401  (registers the components)
    torch.set_num_threads(1)
    if not MMLogger.check_instance_created('fingerprint'):
        MMLogger.get_instance('fingerprint', log_level='WARNING')
    print(f'mmltml from {osp.dirname(mmltml.__file__)}', flush=True)
    results: Dict[str, dict] = {}
    for rel in discover(repo):
        if only and not any(o in rel for o in only):
            continue
        start = time.perf_counter()
        cfg = Config.fromfile(osp.join(repo, rel))
        entry = dict(config=json.loads(json.dumps(cfg.to_dict(),
                                                  default=repr)))
        try:
            entry.update(fingerprint_model(cfg, tiny_clip))
        except Exception as error:  # recorded: a failure is a difference
            entry['error'] = f'{type(error).__name__}: {error}'
        results[rel] = entry
        print(f'{rel}: {time.perf_counter() - start:.1f} s'
              + (f" ERROR {entry['error']}" if 'error' in entry else ''),
              flush=True)
    with open(out, 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)


def _renamed(mapping: dict, renames: List[tuple]) -> dict:
    out = {}
    for key, value in mapping.items():
        for pattern, new in renames:
            key = re.sub(pattern, new, key)
        out[key] = value
    return out


def _diff(path: str, a, b, lines: List[str]) -> None:
    """Append every difference of two JSON values to ``lines``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in b:
                lines.append(f'{path}.{key}: only before ({a[key]!r:.120})')
            elif key not in a:
                lines.append(f'{path}.{key}: only after ({b[key]!r:.120})')
            else:
                _diff(f'{path}.{key}', a[key], b[key], lines)
    elif a != b:
        lines.append(f'{path}: {a!r:.200} -> {b!r:.200}')


def compare(before: str, after: str, renames: List[str],
            ignore_config: bool, show_config: bool) -> int:
    """Print the differences of two fingerprint files; 1 if any."""
    with open(before) as f:
        old = json.load(f)
    with open(after) as f:
        new = json.load(f)
    rules = [tuple(r.split('=', 1)) for r in renames]
    failed = []
    for rel in sorted(set(old) | set(new)):
        if rel not in old or rel not in new:
            where = 'after' if rel in new else 'before'
            failed.append(f'{rel}: only in {where}')
            continue
        a, b = dict(old[rel]), dict(new[rel])
        for part in ('state', 'grads'):
            if part in a:
                a[part] = _renamed(a[part], rules)
        config_a, config_b = a.pop('config'), b.pop('config')
        lines: List[str] = []
        _diff(rel, a, b, lines)
        config_lines: List[str] = []
        _diff(f'{rel}:config', config_a, config_b, config_lines)
        if show_config:
            print('\n'.join(config_lines))
        if not ignore_config:
            lines += config_lines
        failed += lines
        print(f'{rel}: {"identical" if not lines else "DIFFERS"}'
              + (f' (config: {len(config_lines)} difference(s))'
                 if config_lines else ''))
    if failed:
        print('\n'.join(['', 'Differences:'] + failed))
    print(f'{len(old)} / {len(new)} configs, {len(failed)} difference(s)')
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('fingerprint', help='fingerprint a checkout')
    run.add_argument('repo', help='the checkout whose configs/ to read')
    run.add_argument('out', help='JSON file to write')
    run.add_argument('--only', nargs='*', default=[],
                     help='substrings of the config paths to keep')
    run.add_argument('--tiny-clip', action='store_true',
                     help='replace CLIPs without weights by a tiny one')
    cmp = sub.add_parser('compare', help='compare two fingerprint files')
    cmp.add_argument('before')
    cmp.add_argument('after')
    cmp.add_argument('--rename', nargs='*', default=[],
                     help="OLD_REGEX=NEW renames of the first file's keys")
    cmp.add_argument('--ignore-config', action='store_true')
    cmp.add_argument('--show-config', action='store_true')
    args = parser.parse_args()
    if args.command == 'fingerprint':
        fingerprint(args.repo, args.out, args.only, args.tiny_clip)
        return 0
    return compare(args.before, args.after, args.rename, args.ignore_config,
                   args.show_config)


if __name__ == '__main__':
    sys.exit(main())
