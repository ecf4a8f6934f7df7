# Copyright (c) mmltml contributors. All rights reserved.
"""Where the class statistics of a config come from:
:func:`load_class_stats`.

Configs pass statistics *by reference*, as
``dict(ann_file='data/coco/coco_lt_train.txt',
label_file='data/coco/coco_labels.txt')`` (computed from the training list
file) or as the path of a JSON file written by
:func:`~mmltml.structures.save_class_stats`. Every process computes the same
numbers from the same file, so this works in distributed and test-only runs.
What the statistics are (keys, head / medium / tail rule) is defined in
:mod:`mmltml.structures.class_stats`.

Statistics of a list file are memoised per version of the files: the key
holds the absolute path, modification time and size of the list and label
files, ``num_classes`` and the thresholds, so a changed file is read again.
The :data:`CACHE_SIZE` most recently used entries are kept; callers get
deep copies.
"""
import copy
import functools
import json
import os
import os.path as osp
from typing import Optional, Tuple, Union

from mmltml.structures import (HEAD_THR, TAIL_THR, check_class_stats,
                               compute_class_stats)
from .categories import get_class_names, is_preset
from .list_file import ENCODING, read_list_file

__all__ = ['load_class_stats']

#: Number of list-file statistics kept in memory.
CACHE_SIZE = 16

_REF_KEYS = {
    'ann_file', 'label_file', 'num_classes', 'head_thr', 'tail_thr',
    'data_root'
}

StatsSource = Union[str, os.PathLike, dict]
#: ``(path, modification time in ns, size)``; the last two None if the path
#: is no file (a missing file, or a preset name of a label file).
FileVersion = Tuple[str, Optional[int], Optional[int]]


def load_class_stats(source: StatsSource,
                     num_classes: Optional[int] = None,
                     head_thr: int = HEAD_THR,
                     tail_thr: int = TAIL_THR) -> dict:
    """Load class statistics from any supported source.

    Args:
        source (str | dict): One of

            - a dict with ``class_freq`` (and optionally ``num_images`` or
              ``neg_class_freq``, ``condition_prob``, ``classes``,
              ``head_thr``, ``tail_thr``); it is validated and the
              derivable keys are filled in (see
              :func:`~mmltml.structures.check_class_stats`);
            - the path of a ``.json`` file written by
              :func:`~mmltml.structures.save_class_stats`;
            - ``dict(ann_file=<train list file>, label_file=<label file>)``
              with optional ``num_classes``, ``head_thr``, ``tail_thr`` and
              ``data_root`` (prefix of relative paths); ``label_file`` may
              be omitted when ``num_classes`` is given. Computed from the
              list file (read by :mod:`mmltml.datasets.list_file`) and
              memoised (see the module docstring).

        num_classes (int, optional): Expected number of classes; a mismatch
            raises ``ValueError``.
        head_thr (int): Head threshold. Defaults to 100.
        tail_thr (int): Tail threshold. Defaults to 20.

    Returns:
        dict: A new complete statistics dict. Groups are always recomputed
        from ``class_freq`` with the thresholds in effect (those of the
        source dict if it sets them, else the arguments).

    Raises:
        FileNotFoundError: If a file of the source does not exist.
        ValueError: Naming the file (and line) or the field, for a bad
            source.
        TypeError: If ``source`` is none of the above.

    Examples:
        >>> stats = load_class_stats(
        ...     dict(ann_file='data/coco/coco_lt_train.txt',
        ...          label_file='data/coco/coco_labels.txt'))
        >>> stats['num_images'], len(stats['groups']['head'])
        (1909, 22)
    """
    if isinstance(source, (str, os.PathLike)):
        stats = _load_json(os.fspath(source), head_thr, tail_thr)
    elif isinstance(source, dict) and 'class_freq' in source:
        stats = check_class_stats(source, source.get('head_thr', head_thr),
                                  source.get('tail_thr', tail_thr))
    elif isinstance(source, dict) and 'ann_file' in source:
        stats = _from_list_file(source, head_thr, tail_thr)
    else:
        raise TypeError(
            'class statistics source must be a dict with "class_freq", a '
            'dict(ann_file=..., label_file=...) or a .json path, got '
            f'{source!r}'[:300])
    if num_classes is not None and stats['num_classes'] != num_classes:
        raise ValueError(f'class statistics have {stats["num_classes"]} '
                         f'classes but {num_classes} are expected')
    return stats


def _load_json(path: str, head_thr: int, tail_thr: int) -> dict:
    """Read a statistics JSON file."""
    if not path.endswith('.json'):
        raise ValueError(f'class statistics file {path!r} must be a .json '
                         'file; pass dict(ann_file=..., label_file=...) to '
                         'compute statistics from a list file')
    if not osp.isfile(path):
        raise FileNotFoundError(f'class statistics file not found: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode(ENCODING)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b'\n') + 1
        raise ValueError(f'{path}, line {line}: not UTF-8 text (byte '
                         f'0x{raw[e.start]:02x}); save the file as UTF-8'
                         ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: malformed JSON ({e})') from None
    if not isinstance(data, dict) or 'class_freq' not in data:
        raise ValueError(f'{path}: not a class statistics file (no '
                         '"class_freq" key)')
    return check_class_stats(data, head_thr, tail_thr, origin=path)


def _from_list_file(ref: dict, head_thr: int, tail_thr: int) -> dict:
    """Statistics of a training list file (a copy of the memoised ones)."""
    unknown = set(ref) - _REF_KEYS
    if unknown:
        raise ValueError(f'unknown keys {sorted(unknown)} in class '
                         f'statistics reference; allowed: {sorted(_REF_KEYS)}')
    root = ref.get('data_root') or ''
    ann_file = osp.abspath(osp.join(root, ref['ann_file']))
    label_file = ref.get('label_file')
    if label_file is not None and not is_preset(label_file):
        label_file = osp.abspath(osp.join(root, label_file))
    stats = _list_file_stats(
        _version(ann_file), None if label_file is None else
        _version(label_file), ref.get('num_classes'),
        ref.get('head_thr', head_thr), ref.get('tail_thr', tail_thr))
    return copy.deepcopy(stats)


def _version(path: str) -> FileVersion:
    if not osp.isfile(path):
        return path, None, None
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=CACHE_SIZE)
def _list_file_stats(ann: FileVersion, label: Optional[FileVersion],
                     num_classes: Optional[int], head_thr: int,
                     tail_thr: int) -> dict:
    """Statistics of the list file ``ann[0]`` (the file versions are part
    of the memo key; only their paths are read here)."""
    ann_file, label_file = ann[0], None if label is None else label[0]
    classes = None if label_file is None else get_class_names(label_file)
    if classes is None and num_classes is None:
        raise ValueError(f'class statistics of {ann_file}: give label_file '
                         'or num_classes')
    if classes is not None and num_classes not in (None, len(classes)):
        raise ValueError(f'num_classes={num_classes} but {label_file} has '
                         f'{len(classes)} classes')
    num_classes = len(classes) if classes is not None else num_classes
    labels = [entry.ids for entry in read_list_file(ann_file, num_classes)]
    return compute_class_stats(labels, num_classes, classes, head_thr,
                               tail_thr)
