# Copyright (c) mmltml contributors. All rights reserved.
"""Make a training checkpoint into a file to share (the OpenMMLab publish
step, as mmpretrain's ``tools/model_converters/publish_model.py``).

A training checkpoint holds the optimizer state, the parameter schedulers
and mmengine's message hub (``HistoryBuffer`` objects): large, and not
loadable by ``torch.load(weights_only=True)`` without mmltml's allowlist
(``mmltml.utils.compat.register_checkpoint_safe_globals``). The published
file keeps only

* ``state_dict``: the weights (with ``ema_state_dict`` folded in as
  mmpretrain does: a checkpoint of a run with ``EMAHook`` already holds the
  EMA weights in ``state_dict``; ``--no-ema`` puts the raw weights back);
* ``meta``: the run's metadata in plain Python types (numpy scalars and
  arrays and tensors become numbers and lists), with the training class
  statistics (``meta['class_stats']``, see
  :mod:`mmltml.utils.checkpoint_stats`) that testing and prediction
  without the training list file need, and the mmltml / mmpretrain
  versions;

so that any process loads it with ``torch.load(weights_only=True)``, without
importing mmltml. It is written as ``<out>_<YYYYMMDD>-<sha256[:8]>.pth``
(the first 8 hex digits of the file's SHA-256, as OpenMMLab model zoos name
their files).

Example::

    python tools/model_converters/publish_model.py \
        work_dirs/lmpt_vitb16_coco-lt/epoch_30.pth lmpt_vitb16_coco-lt.pth
"""
import argparse
import datetime
import hashlib
import os
import os.path as osp
import sys
import warnings
from typing import Any, Optional, Sequence

import mmltml  # noqa: F401  (loads training checkpoints weights-only)
import mmpretrain
import numpy as np
import torch

from mmltml.datasets import load_class_stats
from mmltml.utils.checkpoint_stats import META_KEY, STORED_KEYS
from mmltml.utils.compat import explain_refused_checkpoint

#: Training-state entries of an mmengine checkpoint that are not published.
DROPPED_KEYS = ('optimizer', 'param_schedulers', 'message_hub', 'hook_msgs')
PLAIN_SCALARS = (type(None), bool, int, float, str)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_file', help='training checkpoint')
    parser.add_argument('out_file', help='output name; the date and the '
                        'SHA-256 prefix are appended')
    parser.add_argument(
        '--no-ema', action='store_true',
        help='publish the raw weights of a run with EMAHook, not the EMA '
        'weights')
    parser.add_argument(
        '--class-stats', metavar='JSON',
        help='training class statistics to store when the checkpoint has '
        'none (a file of tools/dataset_converters/compute_class_stats.py)')
    parser.add_argument(
        '--drop-meta', nargs='+', default=[], metavar='KEY',
        help='meta entries to leave out (e.g. ones a custom hook stored as '
        'Python objects)')
    return parser.parse_args(argv)


def plain(value: Any, where: str) -> Any:
    """``value`` in types torch's weights-only unpickler loads without an
    allowlist (None, bool, int, float, str, lists, tuples, dicts); numpy
    and tensor values become numbers and lists.

    Raises:
        TypeError: For any other object, naming its key.
    """
    if isinstance(value, PLAIN_SCALARS):
        return value
    if isinstance(value, (np.ndarray, np.generic, torch.Tensor)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        items = [plain(v, f'{where}[{i}]') for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {plain(k, f'{where} key {k!r}'): plain(v, f'{where}.{k}')
                for k, v in value.items()}
    raise TypeError(
        f'{where} is a {type(value).__module__}.{type(value).__name__}, '
        'which torch.load(weights_only=True) cannot load; leave it out with '
        f'--drop-meta {where.split(".")[1].split("[")[0]}')


def fold_ema(checkpoint: dict, no_ema: bool) -> None:
    """Drop ``ema_state_dict`` (``state_dict`` already holds the EMA
    weights: ``EMAHook`` swaps them in before saving); with ``no_ema``, put
    the raw weights it holds back into ``state_dict``."""
    ema = checkpoint.pop('ema_state_dict', None)
    if ema is None:
        return
    raw = {k[len('module.'):]: v for k, v in ema.items()
           if k.startswith('module.')}
    unknown = sorted(set(raw) - set(checkpoint['state_dict']))
    if unknown:
        raise KeyError(f'ema_state_dict has weights that state_dict lacks: '
                       f'{unknown[:5]}')
    if no_ema:
        checkpoint['state_dict'].update(raw)
        print('The checkpoint has EMA weights; publishing the raw weights.')
    else:
        print('The checkpoint has EMA weights; publishing them.')


def published(checkpoint: dict, args: argparse.Namespace) -> dict:
    """The checkpoint to publish: weights and plain metadata."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{args.in_file} holds a {type(checkpoint).__name__}'
                        ', not a checkpoint dict')
    if 'state_dict' not in checkpoint:  # a bare state dict
        checkpoint = dict(state_dict=checkpoint)
    for key in DROPPED_KEYS:
        checkpoint.pop(key, None)
    fold_ema(checkpoint, args.no_ema)
    extra = sorted(set(checkpoint) - {'state_dict', 'meta'})
    if extra:
        raise KeyError(f'{args.in_file} has entries that are neither weights '
                       f'nor meta: {extra}')
    state_dict = checkpoint['state_dict']
    not_tensors = [k for k, v in state_dict.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise TypeError(f'{args.in_file}: state_dict entries that are not '
                        f'tensors: {not_tensors[:5]}')
    meta = dict(checkpoint.get('meta') or {})
    for key in args.drop_meta:
        meta.pop(key, None)
    if args.class_stats is not None:
        stats = load_class_stats(args.class_stats)
        meta[META_KEY] = {key: stats[key] for key in STORED_KEYS}
        meta[META_KEY]['source'] = args.class_stats
    if META_KEY not in meta:
        warnings.warn(
            f'{args.in_file} has no training class statistics '
            f"(meta['{META_KEY}']); testing the published file needs the "
            'training list file. Add them with --class-stats.')
    meta.setdefault('mmltml_version', mmltml.__version__)
    meta.setdefault('mmpretrain_version', mmpretrain.__version__)
    return dict(
        state_dict={k: v.detach().cpu() for k, v in state_dict.items()},
        meta=plain(meta, 'meta'))


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(args: argparse.Namespace) -> str:
    """Write the published checkpoint; return its final path."""
    with explain_refused_checkpoint(args.in_file):
        checkpoint = torch.load(args.in_file, map_location='cpu',
                                weights_only=True)
    out = published(checkpoint, args)
    stem = args.out_file[:-4] if args.out_file.endswith('.pth') \
        else args.out_file
    tmp = f'{stem}.publishing.pth'
    torch.save(out, tmp)
    date = datetime.datetime.now().strftime('%Y%m%d')
    final = f'{stem}_{date}-{sha256_of(tmp)[:8]}.pth'
    os.replace(tmp, final)
    return final


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    out_dir = osp.dirname(osp.abspath(args.out_file))
    if not osp.isdir(out_dir):
        print(f'error: output folder {out_dir} does not exist',
              file=sys.stderr)
        return 1
    final = publish(args)
    print(f'Published {args.in_file} as {final} '
          f'({osp.getsize(final) / 2**20:.2f} MiB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
