# Copyright (c) mmltml contributors. All rights reserved.
"""Make the NUS-WIDE-LT files from the NUS-WIDE distribution's annotations.

NUS-WIDE-LT is this project's long-tailed split of NUS-WIDE, **not an
official one**; its files are derived from NUS-WIDE's licensed annotations
and are not distributed. This tool regenerates them, byte-identically for
the same annotation files. It reads (under ``nus_root``; the layout of the
``NUS-WIDE.zip``, ``ImageList.zip``, ``ConceptsList.zip`` and
``NUS_WID_Tags.zip`` downloads)::

    Concepts81.txt (or ConceptsList/Concepts81.txt)  81 concept names
    ImageList/Imagelist.txt        269,648 image paths, e.g.
                                   C:\\ImageData\\Flickr\\actor\\0001_...jpg
    ImageList/TrainImagelist.txt   161,789 of them: the official train split
    ImageList/TestImagelist.txt    107,859 of them: the official test split
    Groundtruth/AllLabels/Labels_<concept>.txt
                                   one 0 / 1 line per Imagelist.txt line
    NUS_WID_Tags/All_Tags.txt      "<Flickr photo id> <tag> <tag> ...",
                                   one line per Imagelist.txt line

(``Groundtruth/TrainTestLabels`` is not read: one of its lines is corrupt,
``-1130179`` at line 78,372 of ``Labels_lake_Train.txt``.) Paths are
matched on their last two parts (``actor/0001_2124494179.jpg``), whatever
their prefix or separator. It writes, under ``--out`` (default
``nus_root``)::

    nus_wide_full_train.txt     every official train image with a concept
                                and a tag (the set the split is drawn from)
    nus_wide_full_captions.txt  their Flickr tags as captions
    nus_wide_lt_test.txt        every official test image with a concept
    nus_wide_lt_sources.json    sha256 and line count of every file read
    nus_wide_lt_{train,labels,captions,class_stats,groups,split}.*
                                the split drawn by make_lt_split (DB-loss
                                Pareto curve 1200 .. 1, largest targets to
                                the most frequent concepts, seed 0)
    nus_wide_lt_sha256.txt      sha256 of every file above

List paths are ``Flickr/<folder>/<file>.jpg`` (images under
``<out>/Flickr``). Errors name the file and line.

Example:
    python tools/dataset_converters/nus_wide_to_list.py data/nus-wide
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

from mmltml.datasets import NUS_WIDE_LT_CLASSES, NUSWIDELTDataset
from mmltml.datasets.list_file import ENCODING
from mmltml.datasets.make_lt_split import (format_curve, make_lt_split,
                                           sha256_file)

#: The split's parameters (``docs/en/prepare_data.md``).
SPLIT = dict(max_count=1200, min_count=1, order='frequency', seed=0)
#: Image counts of the official distribution.
OFFICIAL_SIZES = dict(all=269648, train=161789, test=107859)
PREFIX = NUSWIDELTDataset.FILE_PREFIX


def _lines(path: str) -> List[str]:
    """The stripped lines of a file (blank lines kept: they are rows)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'NUS-WIDE file not found: {path}')
    with open(path, encoding=ENCODING, errors='replace') as f:
        lines = f.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.strip() for line in lines]


def image_key(path: str) -> str:
    """``<folder>/<file>`` of an image path, whatever its prefix."""
    return '/'.join(path.replace('\\', '/').split('/')[-2:])


def read_concepts(root: str) -> str:
    """Check the concept list against ``NUS_WIDE_LT_CLASSES``; return its
    path."""
    path = osp.join(root, 'Concepts81.txt')
    if not osp.isfile(path):
        path = osp.join(root, 'ConceptsList', 'Concepts81.txt')
    names = _lines(path)
    if len(names) != len(NUS_WIDE_LT_CLASSES):
        raise ValueError(f'{path}: {len(names)} concepts, expected '
                         f'{len(NUS_WIDE_LT_CLASSES)}')
    for lineno, (name, expected) in enumerate(
            zip(names, NUS_WIDE_LT_CLASSES), 1):
        if name != expected:
            raise ValueError(f'{path}, line {lineno}: concept {name!r}, '
                             f'expected {expected!r}')
    return path


def read_labels(root: str, num_images: int) -> Tuple[np.ndarray, List[str]]:
    """The [N, 81] label matrix of ``Groundtruth/AllLabels`` and the files
    read."""
    labels = np.zeros((num_images, len(NUS_WIDE_LT_CLASSES)), dtype=bool)
    paths = []
    for col, concept in enumerate(NUS_WIDE_LT_CLASSES):
        path = osp.join(root, 'Groundtruth', 'AllLabels',
                        f'Labels_{concept}.txt')
        values = _lines(path)
        if len(values) != num_images:
            raise ValueError(f'{path}: {len(values)} lines, but '
                             f'ImageList/Imagelist.txt has {num_images}')
        bad = next((i for i, v in enumerate(values) if v not in ('0', '1')),
                   None)
        if bad is not None:
            raise ValueError(f'{path}, line {bad + 1}: expected 0 or 1, '
                             f'got {values[bad]!r}')
        labels[:, col] = np.array(values) == '1'
        paths.append(path)
    return labels, paths


def read_tags(path: str, keys: Sequence[str]) -> List[List[str]]:
    """The tags of each image; a line's photo id must end its image's file
    name (``<n>_<photo id>.jpg``)."""
    lines = _lines(path)
    if len(lines) != len(keys):
        raise ValueError(f'{path}: {len(lines)} lines, but '
                         f'ImageList/Imagelist.txt has {len(keys)}')
    tags = []
    for lineno, (line, key) in enumerate(zip(lines, keys), 1):
        photo_id, *words = line.split() or ['']
        stem = osp.splitext(key.split('/')[-1])[0]
        if stem.rsplit('_', 1)[-1] != photo_id:
            raise ValueError(f'{path}, line {lineno}: photo id '
                             f'{photo_id!r} is not that of image {key!r} '
                             f'(line {lineno} of ImageList/Imagelist.txt)')
        tags.append(words)
    return tags


def split_rows(path: str, index: Dict[str, int]) -> List[int]:
    """Rows (of Imagelist.txt) of the images of a split list."""
    rows = []
    for lineno, line in enumerate(_lines(path), 1):
        row = index.get(image_key(line))
        if row is None:
            raise ValueError(f'{path}, line {lineno}: image {line!r} is not '
                             'in ImageList/Imagelist.txt')
        rows.append(row)
    return rows


def _write(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.writelines(line + '\n' for line in lines)


def _list_line(key: str, ids: np.ndarray) -> str:
    return ' '.join([f'Flickr/{key}'] + [str(i) for i in ids])


def convert(root: str, out: str, max_count: int = SPLIT['max_count'],
            min_count: int = SPLIT['min_count'],
            seed: int = SPLIT['seed']):
    """Read the distribution under ``root`` and write the NUS-WIDE-LT files
    under ``out`` (module docstring); returns make_lt_split's result."""
    concepts = read_concepts(root)
    image_list = osp.join(root, 'ImageList', 'Imagelist.txt')
    keys = [image_key(line) for line in _lines(image_list)]
    index = {key: row for row, key in enumerate(keys)}
    if len(index) != len(keys):
        raise ValueError(f'{image_list}: the same image is listed twice')
    labels, label_files = read_labels(root, len(keys))
    tags_file = osp.join(root, 'NUS_WID_Tags', 'All_Tags.txt')
    tags = read_tags(tags_file, keys)
    splits = {name: osp.join(root, 'ImageList', f'{name}Imagelist.txt')
              for name in ('Train', 'Test')}
    train = split_rows(splits['Train'], index)
    test = split_rows(splits['Test'], index)
    if set(train) & set(test):
        raise ValueError(f'{splits["Train"]} and {splits["Test"]} share '
                         'images')
    os.makedirs(out, exist_ok=True)
    full = [r for r in train if labels[r].any() and tags[r]]
    _write(osp.join(out, 'nus_wide_full_train.txt'),
           [_list_line(keys[r], np.flatnonzero(labels[r])) for r in full])
    _write(osp.join(out, 'nus_wide_full_captions.txt'),
           [f'Flickr/{keys[r]} ' + ' '.join(tags[r]) for r in full])
    _write(osp.join(out, f'{PREFIX}_test.txt'),
           [_list_line(keys[r], np.flatnonzero(labels[r])) for r in test
            if labels[r].any()])
    read = [concepts, image_list, splits['Train'], splits['Test'],
            tags_file] + label_files
    sources = {osp.relpath(p, root).replace(os.sep, '/'): dict(
        sha256=sha256_file(p), lines=len(_lines(p))) for p in read}
    with open(osp.join(out, f'{PREFIX}_sources.json'), 'w',
              encoding='utf-8', newline='\n') as f:
        json.dump(sources, f, indent=1)
        f.write('\n')
    return make_lt_split(
        osp.join(out, 'nus_wide_full_train.txt'), list(NUS_WIDE_LT_CLASSES),
        out, PREFIX, max_count=max_count, min_count=min_count,
        order=SPLIT['order'], seed=seed,
        caption_file=osp.join(out, 'nus_wide_full_captions.txt'),
        extra_files=['nus_wide_full_train.txt', 'nus_wide_full_captions.txt',
                     f'{PREFIX}_test.txt', f'{PREFIX}_sources.json'])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('nus_root', help='the NUS-WIDE distribution folder')
    parser.add_argument('--out', help='output folder (default: nus_root)')
    parser.add_argument(
        '--max-count', type=int, default=SPLIT['max_count'],
        help='other values make another split than NUS-WIDE-LT')
    parser.add_argument(
        '--min-count', type=int, default=SPLIT['min_count'],
        help='other values make another split than NUS-WIDE-LT')
    parser.add_argument(
        '--seed', type=int, default=SPLIT['seed'],
        help='other values make another split than NUS-WIDE-LT')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    out = args.out or args.nus_root
    split = convert(args.nus_root, out, args.max_count, args.min_count,
                    args.seed)
    print(format_curve(split))
    with open(osp.join(out, f'{PREFIX}_test.txt')) as f:
        num_test = sum(1 for _ in f)
    print(f'test: {num_test} images; files in {out} '
          f'(checksums: {split.files["sha256"]})')
    with open(osp.join(out, f'{PREFIX}_sources.json')) as f:
        sources = json.load(f)
    for name, official in OFFICIAL_SIZES.items():
        rel = 'ImageList/' + ('Imagelist.txt' if name == 'all' else
                              f'{name.capitalize()}Imagelist.txt')
        if sources[rel]['lines'] != official:
            print(f'note: {rel} has {sources[rel]["lines"]} images, the '
                  f'official distribution {official}')
    if (args.max_count, args.min_count, args.seed) != (
            SPLIT['max_count'], SPLIT['min_count'], SPLIT['seed']):
        print('note: non-default --max-count / --min-count / --seed: this '
              'is not the NUS-WIDE-LT split of docs/en/prepare_data.md')


if __name__ == '__main__':
    main()
