# Copyright (c) mmltml contributors. All rights reserved.
"""Class statistics of a long-tailed multi-label training set.

This is the single implementation of the statistics used by the losses,
the class-aware sampler, the group-mAP metric and
``tools/dataset_converters/compute_class_stats.py``:

- ``class_freq[i]`` (n_i): number of training images containing class i;
- ``neg_class_freq[i]``: N - n_i, with N the number of training images;
- ``condition_prob[i][j]``: P(j | i) = cooc(i, j) / n_i (diagonal 1, a row
  of zeros when n_i = 0);
- ``groups``: head (n_i >= head_thr), medium (tail_thr <= n_i < head_thr)
  and tail (n_i < tail_thr) class indices.

Configs pass statistics *by reference*, as
``dict(ann_file='data/coco/coco_lt_train.txt',
label_file='data/coco/coco_labels.txt')`` (computed on the fly and
memoised) or as the path of a JSON file written by :func:`save_class_stats`.
Every process computes the same numbers from the same file, so this works in
distributed and test-only runs. Statistics are stored as JSON, never pickle.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .categories import get_class_names, is_preset
from .list_file import iter_list_file, read_list_file  # noqa: F401

GROUP_NAMES = ('head', 'medium', 'tail')
_REF_KEYS = {
    'ann_file', 'label_file', 'num_classes', 'head_thr', 'tail_thr',
    'data_root'
}
_CACHE: Dict[tuple, dict] = {}

StatsSource = Union[str, dict]


def parse_list_file(
        path: str,
        num_classes: Optional[int] = None
) -> Tuple[List[str], List[List[int]]]:
    """Parse a ``<relative image path> <label ids...>`` list file with the
    reader of :mod:`mmltml.datasets.list_file` (its format, tolerance and
    errors; a line without ids is an unlabelled image, allowed here).

    Args:
        path (str): Path of the list file.
        num_classes (int, optional): If given, ids must be below it.

    Returns:
        tuple[list[str], list[list[int]]]: Image paths and, per image, the
        sorted class ids.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the file and line (see
            :func:`~mmltml.datasets.list_file.iter_list_file`).

    Examples:
        >>> paths, labels = parse_list_file('data/voc/voc_lt_train.txt', 20)
        >>> len(paths), labels[0]
        (1142, [4, 14, 19])
    """
    entries = read_list_file(path, num_classes)
    return [e.path for e in entries], [e.ids for e in entries]


def compute_class_stats(labels: Sequence[Sequence[int]],
                        num_classes: int,
                        classes: Optional[Sequence[str]] = None,
                        head_thr: int = 100,
                        tail_thr: int = 20) -> dict:
    """Compute the class statistics of a multi-label training set.

    Args:
        labels (Sequence[Sequence[int]]): Class ids of each training image.
        num_classes (int): Number of classes C.
        classes (Sequence[str], optional): Class names (length C).
        head_thr (int): A class is head if n_i >= head_thr. Defaults to 100.
        tail_thr (int): A class is tail if n_i < tail_thr. Defaults to 20.

    Returns:
        dict: ``num_classes``, ``num_images``, ``class_freq``,
        ``neg_class_freq``, ``condition_prob`` (C x C), ``groups``,
        ``group_names``, ``classes`` and ``thresholds``; plain Python
        types, JSON-serialisable.

    Examples:
        >>> stats = compute_class_stats([[0, 1], [1], [1]], num_classes=3,
        ...                             head_thr=2, tail_thr=1)
        >>> stats['class_freq'], stats['groups']
        ([1, 3, 0], {'head': [1], 'medium': [0], 'tail': [2]})
        >>> stats['condition_prob'][0]
        [1.0, 1.0, 0.0]
    """
    num_classes = _check_num_classes(num_classes)
    onehot = np.zeros((len(labels), num_classes), dtype=np.int64)
    for row, ids in enumerate(labels):
        ids = list(ids)
        bad = [i for i in ids if not 0 <= int(i) < num_classes]
        if bad:
            raise ValueError(f'image {row}: label ids {bad} out of range for '
                             f'{num_classes} classes')
        onehot[row, ids] = 1
    class_freq = onehot.sum(0)
    cooc = onehot.T @ onehot
    denom = np.maximum(class_freq, 1)[:, None].astype(np.float64)
    condition_prob = cooc / denom
    stats = dict(
        num_classes=num_classes,
        num_images=len(labels),
        class_freq=class_freq.tolist(),
        neg_class_freq=(len(labels) - class_freq).tolist(),
        condition_prob=condition_prob.tolist())
    return _finalise(stats, classes, head_thr, tail_thr)


def split_groups(class_freq: Sequence[int],
                 head_thr: int = 100,
                 tail_thr: int = 20) -> Dict[str, List[int]]:
    """Split class indices into head / medium / tail by frequency.

    Args:
        class_freq (Sequence[int]): Training images per class.
        head_thr (int): head if n_i >= head_thr. Defaults to 100.
        tail_thr (int): tail if n_i < tail_thr. Defaults to 20.

    Returns:
        dict[str, list[int]]: Sorted class indices of each group.
    """
    if not 0 <= tail_thr <= head_thr:
        raise ValueError(f'need 0 <= tail_thr <= head_thr, got '
                         f'tail_thr={tail_thr}, head_thr={head_thr}')
    groups = {name: [] for name in GROUP_NAMES}
    for idx, n in enumerate(class_freq):
        if n >= head_thr:
            groups['head'].append(idx)
        elif n >= tail_thr:
            groups['medium'].append(idx)
        else:
            groups['tail'].append(idx)
    return groups


def load_class_stats(source: StatsSource,
                     num_classes: Optional[int] = None,
                     head_thr: int = 100,
                     tail_thr: int = 20) -> dict:
    """Load class statistics from any supported source.

    Args:
        source (str | dict): One of

            - a dict with ``class_freq`` (and optionally ``num_images`` or
              ``neg_class_freq``, ``condition_prob``, ``classes``); it is
              validated and the derivable keys are filled in (keys that
              cannot be derived, e.g. ``condition_prob`` from frequencies
              alone, are ``None``);
            - the path of a ``.json`` file written by
              :func:`save_class_stats`;
            - ``dict(ann_file=<train list file>, label_file=<label file>)``
              with optional ``num_classes``, ``head_thr``, ``tail_thr`` and
              ``data_root`` (prefix of relative paths); ``label_file`` may
              be omitted when ``num_classes`` is given. Computed with
              :func:`parse_list_file` and memoised by absolute path and
              modification time.

        num_classes (int, optional): Expected number of classes; a mismatch
            raises ``ValueError``.
        head_thr (int): Head threshold. Defaults to 100.
        tail_thr (int): Tail threshold. Defaults to 20.

    Returns:
        dict: Same keys as :func:`compute_class_stats`. Groups are always
        recomputed from ``class_freq`` with the thresholds in effect (those
        of the reference dict if it sets them, else the arguments).

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
        stats = _from_dict(source, head_thr, tail_thr)
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


def save_class_stats(stats: dict, path: str) -> None:
    """Validate ``stats`` and write them to ``path`` as JSON.

    Args:
        stats (dict): Statistics as returned by :func:`compute_class_stats`.
        path (str): Output ``.json`` path; parent folders are created.
    """
    thr = stats.get('thresholds') or {}
    stats = _from_dict(stats, thr.get('head', 100), thr.get('tail', 20))
    parent = osp.dirname(osp.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(stats, f, indent=1)
        f.write('\n')


def format_class_stats(stats: dict) -> str:
    """Return a small text table: class count and frequency range per group.

    Args:
        stats (dict): Statistics as returned by :func:`load_class_stats`.

    Returns:
        str: The table, one row per group plus a total row.
    """
    freq = stats['class_freq']
    thr = stats['thresholds']
    bounds = {
        'head': f'n >= {thr["head"]}',
        'medium': f'{thr["tail"]} <= n < {thr["head"]}',
        'tail': f'n < {thr["tail"]}'
    }
    rows = [
        f'{"group":<8}{"rule":<18}{"classes":>8}{"min n":>8}'
        f'{"max n":>8}{"labels":>9}'
    ]
    for name in GROUP_NAMES:
        idx = stats['groups'][name]
        vals = [freq[i] for i in idx] or [0]
        rows.append(f'{name:<8}{bounds[name]:<18}{len(idx):>8}'
                    f'{min(vals):>8}{max(vals):>8}{sum(vals):>9}')
    rows.append(f'{"total":<8}{"":<18}{len(freq):>8}{min(freq):>8}'
                f'{max(freq):>8}{sum(freq):>9}')
    rows.append(f'images: {stats["num_images"]}')
    return '\n'.join(rows)


def _check_num_classes(num_classes: object) -> int:
    if isinstance(
            num_classes,
            bool) or not isinstance(num_classes,
                                    (int, np.integer)) or num_classes <= 0:
        raise ValueError(f'num_classes must be a positive integer, got '
                         f'{num_classes!r}')
    return int(num_classes)


def _finalise(stats: dict, classes: Optional[Sequence[str]], head_thr: int,
              tail_thr: int) -> dict:
    """Add names, groups and thresholds to the numeric statistics."""
    num_classes = stats['num_classes']
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(classes) != num_classes:
            raise ValueError(f'{len(classes)} class names given for '
                             f'{num_classes} classes')
    groups = split_groups(stats['class_freq'], head_thr, tail_thr)
    stats['groups'] = groups
    stats['group_names'] = None if classes is None else {
        g: [classes[i] for i in idx]
        for g, idx in groups.items()
    }
    stats['classes'] = classes
    stats['thresholds'] = dict(head=head_thr, tail=tail_thr)
    return stats


def _int_list(values: object, field: str, origin: str) -> List[int]:
    """Convert ``values`` into a list of non-negative integers."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f'{origin}: "{field}" must be a list of '
                         'non-negative integers') from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f'{origin}: "{field}" must be a non-empty 1-D list')
    if not np.all(np.mod(arr, 1) == 0) or np.any(arr < 0):
        raise ValueError(f'{origin}: "{field}" must hold non-negative '
                         f'integers')
    return arr.astype(np.int64).tolist()


def _from_dict(source: dict,
               head_thr: int,
               tail_thr: int,
               origin: str = 'class statistics') -> dict:
    """Validate a statistics dict and fill in the derivable keys."""
    freq = _int_list(source['class_freq'], 'class_freq', origin)
    num_classes = len(freq)
    if source.get('num_classes') not in (None, num_classes):
        raise ValueError(f'{origin}: num_classes={source["num_classes"]} '
                         f'but class_freq has {num_classes} entries')
    num_images = source.get('num_images')
    neg = source.get('neg_class_freq')
    if neg is not None:
        neg = _int_list(neg, 'neg_class_freq', origin)
        totals = {p + n for p, n in zip(freq, neg)}
        if len(neg) != num_classes or len(totals) != 1:
            raise ValueError(f'{origin}: class_freq + neg_class_freq must '
                             f'be the same N for every class')
        if num_images not in (None, totals.pop()):
            raise ValueError(f'{origin}: num_images={num_images} disagrees '
                             f'with class_freq + neg_class_freq')
        num_images = freq[0] + neg[0]
    if num_images is not None:
        if int(num_images) < max(freq):
            raise ValueError(f'{origin}: num_images={num_images} is below '
                             f'the largest class_freq {max(freq)}')
        num_images = int(num_images)
        neg = [num_images - n for n in freq]
    cond = source.get('condition_prob')
    if cond is not None:
        cond = np.asarray(cond, dtype=np.float64)
        if cond.shape != (num_classes, num_classes):
            raise ValueError(f'{origin}: condition_prob must be '
                             f'{num_classes} x {num_classes}, got '
                             f'{cond.shape}')
        cond = cond.tolist()
    stats = dict(
        num_classes=num_classes,
        num_images=num_images,
        class_freq=freq,
        neg_class_freq=neg,
        condition_prob=cond)
    return _finalise(stats, source.get('classes'), head_thr, tail_thr)


def _load_json(path: str, head_thr: int, tail_thr: int) -> dict:
    """Read a statistics JSON file written by :func:`save_class_stats`."""
    if not path.endswith('.json'):
        raise ValueError(f'class statistics file {path!r} must be a .json '
                         'file; pass dict(ann_file=..., label_file=...) to '
                         'compute statistics from a list file')
    if not osp.isfile(path):
        raise FileNotFoundError(f'class statistics file not found: {path}')
    with open(path, encoding='utf-8') as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: malformed JSON ({e})') from None
    if not isinstance(data, dict) or 'class_freq' not in data:
        raise ValueError(f'{path}: not a class statistics file (no '
                         '"class_freq" key)')
    return _from_dict(data, head_thr, tail_thr, origin=path)


def _from_list_file(ref: dict, head_thr: int, tail_thr: int) -> dict:
    """Compute (memoised) statistics from a training list file."""
    unknown = set(ref) - _REF_KEYS
    if unknown:
        raise ValueError(f'unknown keys {sorted(unknown)} in class '
                         f'statistics reference; allowed: {sorted(_REF_KEYS)}')
    root = ref.get('data_root') or ''
    ann_file = osp.abspath(osp.join(root, ref['ann_file']))
    label_file = ref.get('label_file')
    if label_file is not None and not is_preset(label_file):
        label_file = osp.abspath(osp.join(root, label_file))
    head_thr = ref.get('head_thr', head_thr)
    tail_thr = ref.get('tail_thr', tail_thr)
    key = (ann_file, _mtime(ann_file),
           label_file, _mtime(label_file) if label_file else None,
           ref.get('num_classes'), head_thr, tail_thr)
    if key not in _CACHE:
        _CACHE[key] = _compute_from_files(ann_file, label_file,
                                          ref.get('num_classes'), head_thr,
                                          tail_thr)
    return copy.deepcopy(_CACHE[key])


def _mtime(path: str) -> Optional[float]:
    return os.stat(path).st_mtime_ns if osp.isfile(path) else None


def _compute_from_files(ann_file: str, label_file: Optional[str],
                        num_classes: Optional[int], head_thr: int,
                        tail_thr: int) -> dict:
    classes = None if label_file is None else get_class_names(label_file)
    if classes is None and num_classes is None:
        raise ValueError(f'class statistics of {ann_file}: give label_file '
                         'or num_classes')
    if classes is not None and num_classes not in (None, len(classes)):
        raise ValueError(f'num_classes={num_classes} but {label_file} has '
                         f'{len(classes)} classes')
    num_classes = len(classes) if classes is not None else num_classes
    _, labels = parse_list_file(ann_file, num_classes)
    return compute_class_stats(labels, num_classes, classes, head_thr,
                               tail_thr)
