# Copyright (c) mmltml contributors. All rights reserved.
"""Check the datasets of a config: every image, label and caption.

Reports every problem with its file and line (not only the first one the
dataset would raise on), prints the class statistics of the training split
and exits with status 1 if anything is wrong. Images are opened and decoded
as in :func:`mmltml.datasets.find_image_problem` (missing, empty,
undecodable and truncated files). ``CachedFeatureDataset`` and other
wrappers are unwrapped to the datasets they serve.

Example::

    python tools/misc/check_dataset.py configs/lmpt/lmpt_vitb16_coco-lt.py \
        --splits train test
"""
import argparse
import math
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.fileio import join_path
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from mmpretrain.registry import DATASETS

from mmltml.datasets import LTMultiLabelDataset, load_class_stats
from mmltml.datasets.image_check import iter_image_problems
from mmltml.datasets.list_file import (image_key, iter_caption_file,
                                       iter_list_file)
from mmltml.structures import compute_class_stats, format_class_stats
from mmltml.utils.dataset_cfg import leaf_dataset_cfgs

SPLITS = ('train', 'val', 'test')
#: ``(list file line number, image path)`` of the images to check
ImageEntry = Tuple[Optional[int], str]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=list(SPLITS),
        help='the dataloaders to check (default: all)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_dataloader.dataset.'
        'dataset.data_root=data/coco')
    return parser.parse_args(argv)


class Progress:
    """mmengine's ``ProgressBar`` on a terminal; on anything else (a
    redirected log, a pipe) one line at each fifth of the work, as the bar
    writes one carriage-return update per item."""

    def __init__(self, total: int, what: str = 'images',
                 file: Optional[TextIO] = None, lines: int = 5) -> None:
        file = file or sys.stdout  # the current one (redirections)
        self.total, self.what, self.file = total, what, file
        self.done = 0
        self.bar = ProgressBar(total, file=file) if file.isatty() else None
        self.marks = {math.ceil(total * i / lines)
                      for i in range(1, lines + 1)}

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.done in self.marks:
            print(f'  {self.done}/{self.total} {self.what} checked',
                  file=self.file, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            print(file=self.file)  # end the bar's line


class DatasetChecker:
    """Collects the problems of the datasets of one config."""

    def __init__(self) -> None:
        self.problems: List[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(message)
        print(f'  PROBLEM {message}')

    # -- datasets ------------------------------------------------------------
    def check(self, dataset_cfg: dict
              ) -> Optional[Tuple[List[List[int]], List[str]]]:
        """Check one dataset config; return its labels and class names."""
        name = dataset_cfg.get('type', '?')
        try:
            dataset = DATASETS.build(dict(dataset_cfg, lazy_init=True))
        except Exception as error:  # report, then go on with the others
            self.problem(f'{name}: cannot be built: {error}')
            return None
        if isinstance(dataset, LTMultiLabelDataset):
            return self._check_list_dataset(dataset)
        return self._check_generic_dataset(dataset, name)

    def _check_list_dataset(
            self, dataset: LTMultiLabelDataset
    ) -> Optional[Tuple[List[List[int]], List[str]]]:
        """Labels, captions and images of a list-file dataset."""
        ann_file = dataset.ann_file
        classes = list(dataset.metainfo['classes'])
        print(f'  list file {ann_file}, {len(classes)} classes')
        if not osp.isfile(ann_file):
            self.problem(f'{ann_file}: list file not found')
            return None
        entries = self._check_list_lines(ann_file, len(classes),
                                         dataset.test_mode)
        if dataset.caption_file:
            self._check_captions(dataset, {rel for _, rel, _ in entries})
        self._check_images([(lineno, join_path(dataset.img_prefix, rel))
                            for lineno, rel, _ in entries], ann_file)
        labels = [ids for _, _, ids in entries if ids is not None]
        return labels, classes

    def _check_list_lines(self, ann_file: str, num_classes: int,
                          test_mode: bool
                          ) -> List[Tuple[int, str, Optional[List[int]]]]:
        """Every line's labels (the dataset's reader, reporting every
        problem); ``ids`` is None for an invalid line."""
        return list(iter_list_file(ann_file, num_classes,
                                   allow_unlabelled=test_mode,
                                   on_error=self.problem))

    def _check_captions(self, dataset: LTMultiLabelDataset,
                        images: set) -> None:
        path = dataset.caption_file
        if not osp.isfile(path):
            self.problem(f'{path}: caption file not found')
            return
        listed = {image_key(rel) for rel in images}
        captioned = set()
        for entry in iter_caption_file(path, on_error=self.problem):
            captioned.add(entry.key)
            if entry.key not in listed:
                self.problem(f'{path}, line {entry.lineno}: caption for '
                             f'image {entry.path!r}, which is not in '
                             f'{dataset.ann_file}')
        if dataset.require_captions:
            for rel in sorted(images):
                if image_key(rel) not in captioned:
                    self.problem(f'{path}: no caption for image {rel!r} of '
                                 f'{dataset.ann_file}')

    def _check_generic_dataset(
            self, dataset, name: str
    ) -> Optional[Tuple[List[List[int]], List[str]]]:
        """Any other dataset: its own checks, then labels and images."""
        try:
            dataset.full_init()
        except Exception as error:
            self.problem(f'{name}: cannot be loaded: {error}')
            return None
        source = getattr(dataset, 'ann_file', '') or name
        classes = list(dataset.metainfo.get('classes') or [])
        print(f'  {name} {source}, {len(classes)} classes')
        labels = []
        for idx in range(len(dataset)):
            ids = [int(i) for i in dataset.get_cat_ids(idx)]
            bad = [i for i in ids if classes and not 0 <= i < len(classes)]
            if bad:
                self.problem(f'{source}, sample {idx}: label ids {bad} out '
                             f'of range for {len(classes)} classes')
            labels.append([i for i in ids if i not in bad])
        self._check_images(
            [(None, dataset.get_data_info(i)['img_path'])
             for i in range(len(dataset))], source)
        return labels, classes

    def _check_images(self, images: List[ImageEntry], source: str) -> None:
        """Open and decode every image, with a progress bar."""
        found = []
        progress = Progress(len(images))
        lines = {path: lineno for lineno, path in images}
        for path, problem in iter_image_problems(p for _, p in images):
            progress.update()
            if problem:
                found.append((lines[path], path, problem))
        progress.close()
        for lineno, path, problem in found:
            where = source if lineno is None else f'{source}, line {lineno}'
            self.problem(f'{where}: image {path} {problem}')

    # -- config-level class counts ---------------------------------------
    def check_config_counts(self, cfg: Config, num_classes: int) -> None:
        """``num_classes`` and ``class_stats`` of the config against the
        training dataset's class count."""
        declared = []
        for key in ('data_preprocessor', 'model.data_preprocessor',
                    'model.head'):
            node = _get(cfg, key)
            if isinstance(node, dict) and node.get('num_classes'):
                declared.append((f'{key}.num_classes', node['num_classes']))
        if cfg.get('class_stats') is not None:
            try:
                stats = load_class_stats(cfg.class_stats)
            except Exception as error:
                self.problem(f'class_stats of the config: {error}')
            else:
                declared.append(('class_stats of the config',
                                 stats['num_classes']))
        for key, num in declared:
            if num != num_classes:
                self.problem(f'{key} is {num}, but the training dataset has '
                             f'{num_classes} classes')


def _get(cfg: Config, dotted: str):
    """``cfg[a][b]...`` of ``'a.b...'``, or None."""
    first, *rest = dotted.split('.')
    node = cfg.get(first)
    for part in rest:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    checker = DatasetChecker()
    checked: Dict[str, str] = {}
    train_result = None
    for split in args.splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            print(f'== {split}: no {split}_dataloader in the config ==')
            continue
        for dataset_cfg in leaf_dataset_cfgs(ConfigDict(loader).dataset):
            key = repr(dataset_cfg)
            if key in checked:
                print(f'== {split}: same dataset as {checked[key]}, '
                      'checked above ==')
                continue
            checked[key] = split
            print(f'== {split}: {dataset_cfg.get("type", "?")} ==')
            result = checker.check(dataset_cfg)
            if split == 'train' and result is not None:
                train_result = result
    if train_result is not None and train_result[1]:
        labels, classes = train_result
        print('== class statistics of the training split ==')
        print(format_class_stats(
            compute_class_stats(labels, len(classes), classes)))
        checker.check_config_counts(cfg, len(classes))
    if checker.problems:
        print(f'== {len(checker.problems)} problem(s) ==')
        print('\n'.join(checker.problems))
        return 1
    print('== no problems found ==')
    return 0


if __name__ == '__main__':
    sys.exit(main())
