# Copyright (c) mmltml contributors. All rights reserved.
"""Class names of the long-tailed multi-label benchmarks and label files.

A *preset* is a registered class list, named like its benchmark
(``'coco-lt'``, ``'voc-lt'``, ``'nus-wide-lt'``): every
:class:`~mmltml.datasets.lt_benchmark.LTBenchmarkDataset` registers its
``PRESET`` name and ``METAINFO`` classes here when it is defined, so a
config may write ``classnames='nus-wide-lt'`` or ``label_file='voc-lt'``.

A label file has one ``<class name> <index>`` line per class, e.g.
``traffic light 9``: the name may contain spaces, the index is the last
whitespace-separated token. Indices must be exactly ``0 .. C-1`` (in any
line order). CRLF line ends, trailing spaces and blank lines are tolerated;
the file is UTF-8 (see :func:`mmltml.datasets.list_file.iter_text_lines`).
"""
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

from .list_file import iter_text_lines

# The standard COCO 80-class order (rank of the category id), with the
# spelling of the official ``coco_labels.txt`` (spaces, e.g. 'hair drier').
COCO_LT_CLASSES = ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus',
                   'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
                   'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
                   'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra',
                   'giraffe', 'backpack', 'umbrella', 'handbag', 'tie',
                   'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
                   'kite', 'baseball bat', 'baseball glove', 'skateboard',
                   'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup',
                   'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
                   'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog',
                   'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
                   'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse',
                   'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
                   'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
                   'scissors', 'teddy bear', 'hair drier', 'toothbrush')

# The 20 PASCAL VOC classes in alphabetical (official) order.
VOC_LT_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
                  'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
                  'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
                  'train', 'tvmonitor')

#: Preset name -> class names; filled by :func:`register_class_names`.
_PRESETS: Dict[str, Tuple[str, ...]] = {}

ClassSpec = Union[str, Sequence[str]]


def read_label_file(path: str) -> List[str]:
    """Read a ``<class name> <index>`` label file.

    Args:
        path (str): Path of the label file.

    Returns:
        list[str]: Class names ordered by index.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: On a malformed line, a duplicate index or name, a byte
            that is not UTF-8, or indices that are not ``0 .. C-1``; the
            message names the file and the line.

    Examples:
        >>> names = read_label_file('data/coco/coco_labels.txt')
        >>> names[9]
        'traffic light'
    """
    by_index = {}
    seen_names = {}
    # a byte-order mark is dropped; a byte that is not UTF-8 is an error
    # naming the line
    for lineno, line in iter_text_lines(path, 'label'):
        where = f'{path}, line {lineno}'
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
            raise ValueError(f'{where}: expected "<class name> <index>", '
                             f'got {line!r}')
        name, index = parts[0], int(parts[1])
        if index < 0:
            raise ValueError(f'{where}: negative class index {index}')
        if index in by_index:
            raise ValueError(f'{where}: duplicate class index {index} '
                             f'(first on line {by_index[index][1]})')
        if name in seen_names:
            raise ValueError(f'{where}: duplicate class name {name!r} '
                             f'(first on line {seen_names[name]})')
        by_index[index] = (name, lineno)
        seen_names[name] = lineno
    if not by_index:
        raise ValueError(f'{path}: label file has no classes')
    missing = sorted(set(range(len(by_index))) - set(by_index))
    if missing:
        extra = max(by_index)
        raise ValueError(
            f'{path}: class indices must be contiguous 0..{len(by_index) - 1}'
            f'; missing {missing[:10]} (index {extra} on line '
            f'{by_index[extra][1]} is out of that range)')
    return [by_index[i][0] for i in range(len(by_index))]


def register_class_names(name: str, classes: Sequence[str]) -> None:
    """Register ``classes`` as the preset ``name`` (case-insensitive, ``_``
    allowed for ``-``).

    Raises:
        ValueError: If ``name`` is already registered with other names.
    """
    key, classes = _preset_key(name), tuple(get_class_names(list(classes)))
    if _PRESETS.get(key, classes) != classes:
        raise ValueError(f'class-name preset {name!r} is already registered '
                         'with other class names')
    _PRESETS[key] = classes


def preset_names() -> List[str]:
    """The names of the registered class-name presets, sorted."""
    return sorted(_PRESETS)


def is_preset(spec: object) -> bool:
    """Whether ``spec`` names a registered class list (e.g. 'coco-lt')."""
    return isinstance(spec, str) and _preset_key(spec) in _PRESETS


def _preset_key(spec: str) -> str:
    return spec.lower().replace('_', '-')


def get_class_names(spec: ClassSpec) -> List[str]:
    """Resolve a class-name specification into a list of names.

    Args:
        spec (str | Sequence[str]): A list/tuple of names, a preset name
            (see :func:`preset_names`, e.g. ``'coco-lt'``; case-insensitive,
            ``_`` allowed for ``-``) or the path of a label file
            (see :func:`read_label_file`).

    Returns:
        list[str]: The class names.

    Examples:
        >>> len(get_class_names('coco-lt'))
        80
        >>> get_class_names(['cat', 'dog'])
        ['cat', 'dog']
    """
    if isinstance(spec, str):
        preset = _PRESETS.get(_preset_key(spec))
        if preset is not None:
            return list(preset)
        if osp.isfile(spec):
            return read_label_file(spec)
        raise FileNotFoundError(
            f'class names {spec!r}: neither a preset '
            f'({sorted(_PRESETS)}) nor an existing label file')
    if isinstance(spec, (list, tuple)):
        names = list(spec)
        bad = [n for n in names if not isinstance(n, str) or not n.strip()]
        if not names or bad:
            raise ValueError('class names must be a non-empty list of '
                             f'non-empty strings, got {spec!r}')
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f'duplicate class names: {dup}')
        return names
    raise TypeError('class names must be a list/tuple of names, a preset '
                    f'name or a label file path, got {type(spec).__name__}')


def read_class_names_file(path: str) -> List[str]:
    """Read class names from a file of one name per line, or from a label
    file (every line ``<class name> <index>``, see
    :func:`read_label_file`), for zero-shot prediction.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: On an empty file or a duplicate name, naming the file
            and the lines.
    """
    lines = list(iter_text_lines(path, 'class names'))
    if not lines:
        raise ValueError(f'{path}: no class names')
    if all(len(line.rsplit(None, 1)) == 2
           and line.rsplit(None, 1)[1].isdigit() for _, line in lines):
        return read_label_file(path)
    first = {}
    for lineno, name in lines:
        if name in first:
            raise ValueError(f'{path}, line {lineno}: duplicate class name '
                             f'{name!r} (first on line {first[name]})')
        first[name] = lineno
    return [name for _, name in lines]
