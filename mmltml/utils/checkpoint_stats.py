# Copyright (c) mmltml contributors. All rights reserved.
"""Training class statistics that travel with a checkpoint.

Losses, samplers and the group-mAP metric take the training set's class
statistics from a ``class_stats`` source in the config, usually the training
list file (see :func:`mmltml.datasets.load_class_stats`). A trained model
should be testable, and usable for prediction, without that file, so
:class:`~mmltml.engine.hooks.ClassStatsCheckpointHook` stores the statistics
in every checkpoint (``checkpoint['meta']['class_stats']``, plain JSON-like
types that load under ``weights_only=True``) and
:func:`apply_checkpoint_class_stats` (``tools/test.py``,
:class:`~mmltml.apis.MultiLabelInferencer`) puts them in place of every
``class_stats`` source of a config whose file is missing. A source whose
file is present still wins, and statistics that disagree with the
checkpoint's are an error naming both.
"""
import os.path as osp
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

from ..datasets.class_stats import load_class_stats

#: Key of the statistics in ``checkpoint['meta']``.
META_KEY = 'class_stats'
#: The statistics stored (all plain lists / numbers / strings).
STORED_KEYS = ('num_classes', 'num_images', 'class_freq', 'neg_class_freq',
               'condition_prob', 'classes', 'thresholds')


def iter_class_stats_sources(cfg: Any,
                             path: str = '') -> Iterator[Tuple[str, Any]]:
    """Yield ``(dotted key, source)`` of every ``class_stats`` entry of a
    config (top-level variable, losses, samplers, evaluators, ...)."""
    if isinstance(cfg, (dict, Config)):
        for key, value in cfg.items():
            where = f'{path}.{key}' if path else str(key)
            if key == 'class_stats' and _is_source(value):
                yield where, value
            else:
                yield from iter_class_stats_sources(value, where)
    elif isinstance(cfg, (list, tuple)):
        for idx, value in enumerate(cfg):
            yield from iter_class_stats_sources(value, f'{path}[{idx}]')


def _is_source(value: Any) -> bool:
    """A statistics source, not a component config (``type=...``)."""
    return isinstance(value, str) or (isinstance(value, (dict, Config))
                                      and 'type' not in value)


def describe_source(source: Any) -> str:
    """A short name of a statistics source for messages."""
    if isinstance(source, dict) and 'ann_file' in source:
        return osp.join(source.get('data_root') or '', source['ann_file'])
    if isinstance(source, dict):
        return 'the class_freq given in the config'
    return str(source)


def source_is_missing(source: Any) -> bool:
    """Whether ``source`` names a list / JSON file that does not exist."""
    if isinstance(source, dict) and 'ann_file' in source:
        return not osp.isfile(describe_source(source))
    return isinstance(source, str) and not osp.isfile(source)


def config_class_stats(cfg: Any) -> Optional[dict]:
    """The training statistics of a config, to store in its checkpoints.

    The source is the config's top-level ``class_stats`` variable if it
    has one, else the ``class_stats`` entries of its components when they
    all give the same statistics; None when the config has none (or they
    differ, or a source file is missing).
    """
    sources = [s for _, s in iter_class_stats_sources(cfg)]
    if isinstance(cfg, (dict, Config)) and \
            cfg.get('class_stats') is not None:
        sources = [cfg['class_stats']]
    if not sources or any(source_is_missing(s) for s in sources):
        return None
    stats = [load_class_stats(s) for s in sources]
    if any(disagreement(stats[0], other) for other in stats[1:]):
        return None
    stored = {key: stats[0][key] for key in STORED_KEYS}
    stored['source'] = describe_source(sources[0])
    return stored


def disagreement(ours: dict, theirs: dict) -> Optional[str]:
    """The first statistic on which two statistics dicts differ, or None
    (names and co-occurrences are compared when both have them)."""
    for key in ('num_classes', 'num_images', 'class_freq'):
        if ours.get(key) != theirs.get(key):
            return key
    for key in ('classes', 'condition_prob'):
        if ours.get(key) is None or theirs.get(key) is None:
            continue
        if key == 'classes' and list(ours[key]) != list(theirs[key]):
            return key
        if key == 'condition_prob' and not np.allclose(ours[key],
                                                       theirs[key]):
            return key
    return None


def read_checkpoint_class_stats(checkpoint: str) -> Optional[dict]:
    """``meta['class_stats']`` of a checkpoint file, or None.

    The file is read with torch's weights-only unpickler (mmengine's types
    are allowlisted by :func:`mmltml.utils.compat.
    register_checkpoint_safe_globals`).
    """
    loaded = torch.load(checkpoint, map_location='cpu', weights_only=True)
    meta = loaded.get('meta') if isinstance(loaded, dict) else None
    return (meta or {}).get(META_KEY)


def apply_checkpoint_class_stats(cfg: Any, checkpoint: Optional[str]
                                 ) -> List[str]:
    """Give a config's ``class_stats`` sources the checkpoint's statistics.

    Every source whose file is missing is replaced (in place) by the
    statistics stored in ``checkpoint`` (a source's own ``head_thr`` /
    ``tail_thr`` are kept); a source that is present is checked against
    them.

    Returns:
        list[str]: The dotted config keys that were replaced.

    Raises:
        ValueError: If a present source disagrees with the checkpoint,
            naming both.
    """
    if not checkpoint or not osp.isfile(checkpoint):
        return []
    sources = list(iter_class_stats_sources(cfg))
    if not sources:
        return []
    stored = read_checkpoint_class_stats(checkpoint)
    if stored is None:
        return []
    replaced = []
    for where, source in sources:
        if source_is_missing(source):
            _set(cfg, where, _injected(stored, source))
            replaced.append(where)
            continue
        problem = disagreement(load_class_stats(source), stored)
        if problem is not None:
            raise ValueError(
                f'class statistics disagree on {problem!r}: the config\'s '
                f'{where} ({describe_source(source)}) and the checkpoint '
                f'{checkpoint} (trained with {stored.get("source")}). Use '
                'the training list file of this checkpoint, or remove it '
                'to use the statistics stored in the checkpoint.')
    return replaced


def _injected(stored: dict, source: Any) -> dict:
    """The stored statistics as a ``class_freq`` source, with the
    thresholds of the replaced reference if it sets them."""
    injected = {key: stored[key] for key in STORED_KEYS[:-1]
                if stored.get(key) is not None}
    if isinstance(source, dict):
        for key in ('head_thr', 'tail_thr'):
            if key in source:
                injected[key] = source[key]
    return injected


def _set(cfg: Any, where: str, value: Any) -> None:
    """Set the entry at a dotted key with ``[i]`` list indices."""
    node = cfg
    parts = where.replace('[', '.[').split('.')
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith('[') else node[part]
    last = parts[-1]
    if last.startswith('['):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
