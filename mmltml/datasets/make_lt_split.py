# Copyright (c) mmltml contributors. All rights reserved.
"""Write a long-tailed training split drawn from any multi-label list file.

:func:`make_lt_split` reads a "full" list file (``<image path> <label
ids...>``, e.g. all COCO train2017 images from ``coco_to_list.py``), draws a
subset whose class sizes follow the DB-loss Pareto curve
(:mod:`mmltml.structures.lt_split`) and writes, under ``out_dir``::

    {prefix}_train.txt        the subset, in the order of the full list
    {prefix}_labels.txt       <class name> <index>
    {prefix}_captions.txt     the subset's captions (with a caption file)
    {prefix}_class_stats.json the subset's class statistics
    {prefix}_groups.json      head / medium / tail classes with their counts
    {prefix}_split.json       source checksums, parameters, per-class
                              available / target / achieved counts
    {prefix}_sha256.txt       sha256 of every file above (and of the
                              caller's ``extra_files``), ``sha256sum -c``
                              format

Nothing depends on the time, the machine or the paths given, only on the
inputs' content, the parameters and the seed: the same input and seed give
byte-identical files. ``tools/dataset_converters/make_lt_split.py`` is the
command line.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from mmltml.structures import (GROUP_NAMES, HEAD_THR, TAIL_THR,
                               compute_class_stats, save_class_stats)
from mmltml.structures.lt_split import (LTSubset, assign_targets,
                                        draw_lt_subset, pareto_targets,
                                        rank_classes, unservable_classes)
from .categories import get_class_names, is_preset
from .list_file import image_key, iter_caption_file, read_list_file

#: Written into ``{prefix}_split.json``; bump when the output changes.
GENERATOR = 'mmltml.datasets.make_lt_split 1'


class LTSplit(NamedTuple):
    """What :func:`make_lt_split` drew and wrote."""
    classes: List[str]
    ranked: np.ndarray  #: classes from the largest target to the smallest
    available: np.ndarray  #: [C] images of each class in the full list
    subset: LTSubset
    files: Dict[str, str]  #: kind -> written path


def sha256_file(path: str) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _label_matrix(entries, num_classes: int) -> np.ndarray:
    labels = np.zeros((len(entries), num_classes), dtype=bool)
    for row, entry in enumerate(entries):
        labels[row, entry.ids] = True
    return labels


def _check_servable(labels: np.ndarray, targets: np.ndarray,
                    ranked: np.ndarray, classes: Sequence[str],
                    list_file: str) -> None:
    """Refuse targets above a class's image count, naming the class."""
    bad = unservable_classes(labels, targets)
    if not bad.size:
        return
    rank = {int(c): r for r, c in enumerate(ranked)}
    available = labels.sum(0)
    lines = [f'  class {classes[c]!r} (index {c}, rank {rank[c] + 1}): '
             f'{available[c]} images, target {targets[c]}'
             for c in sorted(bad.tolist(), key=rank.get)]
    raise ValueError(
        f'{list_file}: {len(bad)} class(es) have fewer images than the '
        'curve asks of them:\n' + '\n'.join(lines) +
        '\nLower max_count (the head size), change the class order, or '
        'draw from a larger list.')


def _write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.writelines(line + '\n' for line in lines)


def _write_json(path: str, data: dict) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        json.dump(data, f, indent=1)
        f.write('\n')


def _subset_captions(caption_file: str, paths: Sequence[str]) -> List[str]:
    """The caption lines of ``paths``, in their order."""
    captions = {e.key: e for e in iter_caption_file(caption_file)}
    lines = []
    for path in paths:
        entry = captions.get(image_key(path))
        if entry is None:
            raise ValueError(f'{caption_file}: no caption for image '
                             f'{path!r} of the subset')
        lines.append(f'{entry.path} {entry.caption}')
    return lines


def _source(list_file: str, labels: str, caption_file: Optional[str],
            num_images: int, num_labelled: int) -> dict:
    source = dict(
        list_file=osp.basename(list_file),
        list_sha256=sha256_file(list_file),
        images=num_images,
        labelled_images=num_labelled)
    if isinstance(labels, str) and not is_preset(labels):
        source.update(label_file=osp.basename(labels),
                      label_sha256=sha256_file(labels))
    elif isinstance(labels, str):
        source.update(label_preset=labels)
    if caption_file:
        source.update(caption_file=osp.basename(caption_file),
                      caption_sha256=sha256_file(caption_file))
    return source


def _groups(stats: dict, classes: Sequence[str]) -> dict:
    freq = stats['class_freq']
    groups = {name: [dict(index=i, name=classes[i], count=freq[i])
                     for i in stats['groups'][name]]
              for name in GROUP_NAMES}
    return dict(thresholds=stats['thresholds'], **groups)


def make_lt_split(list_file: str,
                  labels,
                  out_dir: str,
                  prefix: str = 'lt',
                  max_count: int = 1200,
                  min_count: int = 1,
                  shape: float = 6.0,
                  quantile: float = 0.99,
                  order: str = 'frequency',
                  seed: int = 0,
                  head_thr: int = HEAD_THR,
                  tail_thr: int = TAIL_THR,
                  caption_file: Optional[str] = None,
                  extra_files: Sequence[str] = ()) -> LTSplit:
    """Draw a long-tailed subset of ``list_file`` and write its files.

    Args:
        list_file (str): The full list file to draw from; unlabelled lines
            are never drawn.
        labels (str | Sequence[str]): Label file, class-name preset or
            list of class names.
        out_dir (str): Output folder (created).
        prefix (str): Output file prefix. Defaults to ``'lt'``.
        max_count, min_count, shape, quantile: The Pareto curve, see
            :func:`~mmltml.structures.lt_split.pareto_targets`.
        order (str): Which class gets which target, see
            :func:`~mmltml.structures.lt_split.rank_classes`.
        seed (int): The draw's seed. Defaults to 0.
        head_thr, tail_thr (int): Group thresholds of the statistics.
        caption_file (str, optional): Captions of the full list; the
            subset's are written.
        extra_files (Sequence[str]): Files already in ``out_dir`` (names)
            to list in the sha256 manifest too.

    Returns:
        LTSplit: The classes, ranking, available counts, subset and files.

    Raises:
        ValueError: Naming the file and line for a bad list or caption
            file, and naming each class that has fewer images than its
            target.
    """
    classes = get_class_names(labels)
    entries = read_list_file(list_file, len(classes))
    matrix = _label_matrix(entries, len(classes))
    ranked = rank_classes(matrix, order)
    curve = pareto_targets(len(classes), max_count, min_count, shape,
                           quantile)
    targets = assign_targets(curve, ranked)
    _check_servable(matrix, targets, ranked, classes, list_file)
    subset = draw_lt_subset(matrix, targets, seed)
    chosen = [entries[i] for i in subset.indices]
    caption_lines = _subset_captions(
        caption_file, [e.path for e in chosen]) if caption_file else None

    os.makedirs(out_dir, exist_ok=True)
    files = {kind: osp.join(out_dir, f'{prefix}_{kind}{ext}')
             for kind, ext in (('train', '.txt'), ('labels', '.txt'),
                               ('captions', '.txt'),
                               ('class_stats', '.json'),
                               ('groups', '.json'), ('split', '.json'),
                               ('sha256', '.txt'))}
    if not caption_file:
        del files['captions']
    _write_lines(files['train'], [
        ' '.join([e.path] + [str(i) for i in e.ids]) for e in chosen])
    _write_lines(files['labels'],
                 [f'{name} {i}' for i, name in enumerate(classes)])
    if caption_lines is not None:
        _write_lines(files['captions'], caption_lines)
    stats = compute_class_stats([e.ids for e in chosen], len(classes),
                                classes, head_thr, tail_thr)
    save_class_stats(stats, files['class_stats'])
    _write_json(files['groups'], _groups(stats, classes))
    available = matrix.sum(0)
    _write_json(files['split'], dict(
        generator=GENERATOR,
        source=_source(list_file, labels, caption_file, len(entries),
                       int(matrix.any(1).sum())),
        parameters=dict(max_count=max_count, min_count=min_count,
                        shape=shape, quantile=quantile, order=order,
                        seed=seed, head_thr=head_thr, tail_thr=tail_thr),
        result=dict(images=len(chosen), sweeps=subset.sweeps,
                    polish_steps=subset.polish_steps,
                    abs_deviation=int(np.abs(subset.counts - targets).sum()),
                    rel_deviation=round(float(
                        (np.abs(subset.counts - targets) / targets).sum()),
                        6)),
        classes=[dict(rank=r + 1, index=int(c), name=classes[c],
                      available=int(available[c]), target=int(targets[c]),
                      count=int(subset.counts[c]))
                 for r, c in enumerate(ranked)]))
    names = sorted([osp.basename(p) for k, p in files.items()
                    if k != 'sha256'] + list(extra_files))
    _write_lines(files['sha256'], [
        f'{sha256_file(osp.join(out_dir, name))}  {name}' for name in names])
    return LTSplit(classes, ranked, available, subset, files)


def format_curve(split: LTSplit) -> str:
    """The achieved class-size curve against the target, one row per rank,
    and a summary."""
    subset, classes = split.subset, split.classes
    targets, counts = subset.targets, subset.counts
    width = max(len(name) for name in classes)
    rows = [f'{"rank":>4}  {"class":<{width}}  {"full":>7}  {"target":>6}  '
            f'{"drawn":>6}  {"diff":>6}']
    for rank, cls in enumerate(split.ranked, 1):
        rows.append(f'{rank:>4}  {classes[cls]:<{width}}  '
                    f'{split.available[cls]:>7}  {targets[cls]:>6}  '
                    f'{counts[cls]:>6}  {counts[cls] - targets[cls]:>+6}')
    deviation = np.abs(counts - targets)
    close = int((deviation <= np.maximum(2, 0.1 * targets)).sum())
    rows.append(
        f'{len(subset.indices)} images; sum |drawn - target| = '
        f'{int(deviation.sum())} of {int(targets.sum())} target labels; '
        f'{close} of {len(targets)} classes within max(2, 10 %) of their '
        f'target; largest deviation {int(deviation.max())} '
        f'({classes[int(np.argmax(deviation))]})')
    return '\n'.join(rows)

