# Copyright (c) mmltml contributors. All rights reserved.
"""Class statistics of a long-tailed multi-label training set.

The one definition of the statistics read by the losses, the group-mAP
metric, the datasets and the tools (numpy and the standard library only, no
framework import):

- ``class_freq[i]`` (n_i): number of training images containing class i;
- ``neg_class_freq[i]``: N - n_i, with N the number of training images;
- ``condition_prob[i][j]``: P(j | i) = cooc(i, j) / n_i (diagonal 1, a row
  of zeros when n_i = 0), with cooc(i, j) the number of training images
  containing both i and j (:func:`cooccurrence_counts` recovers the counts);
- ``groups``: the head / medium / tail rule of :func:`split_groups`, head
  n_i >= head_thr, medium tail_thr <= n_i < head_thr, tail n_i < tail_thr.

A statistics dict holds plain Python types (JSON-serialisable):
``num_classes``, ``num_images``, ``class_freq``, ``neg_class_freq``,
``condition_prob``, ``groups``, ``group_names``, ``classes`` and
``thresholds``. Where a config's statistics come from (a training list
file, a ``.json`` file) is resolved by
:func:`mmltml.datasets.load_class_stats`.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

#: The groups, from the most to the least frequent classes.
GROUP_NAMES = ('head', 'medium', 'tail')
#: Default thresholds (the LTML protocol): head n_i >= 100, tail n_i < 20.
HEAD_THR = 100
TAIL_THR = 20


def split_groups(class_freq: Sequence[int],
                 head_thr: int = HEAD_THR,
                 tail_thr: int = TAIL_THR) -> Dict[str, List[int]]:
    """Split class indices into head / medium / tail by frequency.

    Args:
        class_freq (Sequence[int]): Training images per class.
        head_thr (int): head if n_i >= head_thr. Defaults to 100.
        tail_thr (int): tail if n_i < tail_thr. Defaults to 20.

    Returns:
        dict[str, list[int]]: Sorted class indices of each group.

    Examples:
        >>> split_groups([150, 20, 19, 100])
        {'head': [0, 3], 'medium': [1], 'tail': [2]}
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


def group_rules(thresholds: Dict[str, int]) -> Dict[str, str]:
    """The rule of each group as text, e.g. ``'20 <= n < 100'``.

    Args:
        thresholds (dict): ``dict(head=head_thr, tail=tail_thr)``, the
            ``thresholds`` of a statistics dict.

    Returns:
        dict[str, str]: One rule per name of :data:`GROUP_NAMES`.
    """
    head, tail = thresholds['head'], thresholds['tail']
    return dict(head=f'n >= {head}', medium=f'{tail} <= n < {head}',
                tail=f'n < {tail}')


def compute_class_stats(labels: Sequence[Sequence[int]],
                        num_classes: int,
                        classes: Optional[Sequence[str]] = None,
                        head_thr: int = HEAD_THR,
                        tail_thr: int = TAIL_THR) -> dict:
    """Compute the class statistics of a multi-label training set.

    Args:
        labels (Sequence[Sequence[int]]): Class ids of each training image.
        num_classes (int): Number of classes C.
        classes (Sequence[str], optional): Class names (length C).
        head_thr (int): A class is head if n_i >= head_thr. Defaults to 100.
        tail_thr (int): A class is tail if n_i < tail_thr. Defaults to 20.

    Returns:
        dict: The statistics (keys in the module docstring).

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
    stats = dict(
        num_classes=num_classes,
        num_images=len(labels),
        class_freq=class_freq.tolist(),
        neg_class_freq=(len(labels) - class_freq).tolist(),
        condition_prob=(cooc / denom).tolist())
    return _finalise(stats, classes, head_thr, tail_thr)


def cooccurrence_counts(stats: dict) -> np.ndarray:
    """The co-occurrence counts of a statistics dict.

    ``cooc[i, j]`` is the number of training images containing both class
    i and class j (diagonal: n_i), recovered exactly from ``condition_prob``
    and ``class_freq`` (``condition_prob[i][j] * n_i`` rounded: the counts
    are integers and the products are within an ulp of them).

    Args:
        stats (dict): Statistics with ``class_freq`` and ``condition_prob``.

    Returns:
        np.ndarray: int64 array of shape (C, C), symmetric.

    Raises:
        ValueError: If ``stats`` has no ``condition_prob`` (statistics given
            as class counts only carry no co-occurrence).

    Examples:
        >>> stats = compute_class_stats([[0, 1], [1], [1, 2]], 3)
        >>> cooccurrence_counts(stats).tolist()
        [[1, 1, 0], [1, 3, 1], [0, 1, 1]]
    """
    cond = stats.get('condition_prob')
    if cond is None:
        raise ValueError('the class statistics have no condition_prob, so no '
                         'co-occurrence: compute them from the training list '
                         'file (class_stats=dict(ann_file=..., label_file=...)'
                         ') or a JSON file that has condition_prob')
    freq = np.asarray(stats['class_freq'], dtype=np.float64)
    return np.rint(np.asarray(cond, dtype=np.float64) *
                   freq[:, None]).astype(np.int64)


def check_class_stats(stats: dict,
                      head_thr: int = HEAD_THR,
                      tail_thr: int = TAIL_THR,
                      origin: str = 'class statistics') -> dict:
    """Validate a statistics dict and return it complete.

    Args:
        stats (dict): At least ``class_freq``; optionally ``num_classes``,
            ``num_images`` or ``neg_class_freq``, ``condition_prob`` and
            ``classes``. Other keys (e.g. stale ``groups``) are ignored.
        head_thr (int): Head threshold of the groups. Defaults to 100.
        tail_thr (int): Tail threshold of the groups. Defaults to 20.
        origin (str): Where ``stats`` come from, to start error messages
            (e.g. the file). Defaults to ``'class statistics'``.

    Returns:
        dict: A new dict with every key of :func:`compute_class_stats`;
        groups recomputed from ``class_freq``; keys that cannot be derived
        (``num_images``, ``neg_class_freq`` without either of them,
        ``condition_prob``, ``classes``, ``group_names``) are None.

    Raises:
        ValueError: Naming ``origin`` and the field, for counts that are not
            non-negative integers or disagree with each other.

    Examples:
        >>> check_class_stats(dict(class_freq=[3, 1], num_images=4),
        ...                   head_thr=2, tail_thr=1)['neg_class_freq']
        [1, 3]
    """
    freq = _int_list(stats['class_freq'], 'class_freq', origin)
    num_classes = len(freq)
    if stats.get('num_classes') not in (None, num_classes):
        raise ValueError(f'{origin}: num_classes={stats["num_classes"]} '
                         f'but class_freq has {num_classes} entries')
    num_images = _num_images(stats, freq, origin)
    neg = None if num_images is None else [num_images - n for n in freq]
    cond = stats.get('condition_prob')
    if cond is not None:
        cond = np.asarray(cond, dtype=np.float64)
        if cond.shape != (num_classes, num_classes):
            raise ValueError(f'{origin}: condition_prob must be '
                             f'{num_classes} x {num_classes}, got '
                             f'{cond.shape}')
        cond = cond.tolist()
    checked = dict(
        num_classes=num_classes,
        num_images=num_images,
        class_freq=freq,
        neg_class_freq=neg,
        condition_prob=cond)
    return _finalise(checked, stats.get('classes'), head_thr, tail_thr)


def save_class_stats(stats: dict, path: str) -> None:
    """Validate ``stats`` (:func:`check_class_stats`, keeping their
    thresholds) and write them to ``path`` as JSON.

    Args:
        stats (dict): Statistics as returned by :func:`compute_class_stats`.
        path (str): Output ``.json`` path; parent folders are created.
    """
    thr = stats.get('thresholds') or {}
    stats = check_class_stats(stats, thr.get('head', HEAD_THR),
                              thr.get('tail', TAIL_THR))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(stats, f, indent=1)
        f.write('\n')


def format_class_stats(stats: dict) -> str:
    """Return a small text table: class count and frequency range per group.

    Args:
        stats (dict): A complete statistics dict.

    Returns:
        str: The table, one row per group plus a total row.
    """
    freq = stats['class_freq']
    rules = group_rules(stats['thresholds'])
    rows = [
        f'{"group":<8}{"rule":<18}{"classes":>8}{"min n":>8}'
        f'{"max n":>8}{"labels":>9}'
    ]
    for name in GROUP_NAMES:
        idx = stats['groups'][name]
        vals = [freq[i] for i in idx] or [0]
        rows.append(f'{name:<8}{rules[name]:<18}{len(idx):>8}'
                    f'{min(vals):>8}{max(vals):>8}{sum(vals):>9}')
    rows.append(f'{"total":<8}{"":<18}{len(freq):>8}{min(freq):>8}'
                f'{max(freq):>8}{sum(freq):>9}')
    rows.append(f'images: {stats["num_images"]}')
    return '\n'.join(rows)


def _check_num_classes(num_classes: object) -> int:
    if isinstance(num_classes, bool) or not isinstance(
            num_classes, (int, np.integer)) or num_classes <= 0:
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


def _num_images(stats: dict, freq: List[int], origin: str) -> Optional[int]:
    """N from ``num_images`` and / or ``neg_class_freq``, checked against
    ``freq``; None if neither is given."""
    num_images = stats.get('num_images')
    neg = stats.get('neg_class_freq')
    if neg is not None:
        neg = _int_list(neg, 'neg_class_freq', origin)
        totals = {p + n for p, n in zip(freq, neg)}
        if len(neg) != len(freq) or len(totals) != 1:
            raise ValueError(f'{origin}: class_freq + neg_class_freq must '
                             f'be the same N for every class')
        if num_images not in (None, totals.pop()):
            raise ValueError(f'{origin}: num_images={num_images} disagrees '
                             f'with class_freq + neg_class_freq')
        num_images = freq[0] + neg[0]
    if num_images is None:
        return None
    if int(num_images) < max(freq):
        raise ValueError(f'{origin}: num_images={num_images} is below '
                         f'the largest class_freq {max(freq)}')
    return int(num_images)
