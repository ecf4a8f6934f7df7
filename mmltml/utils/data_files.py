# Copyright (c) mmltml contributors. All rights reserved.
"""Check, before anything is built, that the data files a config names
exist (``tools/train.py`` and ``tools/test.py`` call it first)."""
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

from mmpretrain.registry import DATASETS

from ..datasets.categories import is_preset
from ..datasets.lt_benchmark import LTBenchmarkDataset
from .checkpoint_stats import iter_class_stats_sources
from .dataset_cfg import leaf_dataset_cfgs

#: Dataset fields that name a file under ``data_root``.
DATASET_FILE_FIELDS = ('ann_file', 'label_file', 'caption_file')


def _join(data_root: str, path: str) -> str:
    return path if osp.isabs(path) or not data_root else osp.join(
        data_root, path)


def _dataset_class(type_name):
    return DATASETS.get(type_name) if isinstance(type_name, str) else None


def _dataset_files(cfg: dict, where: str) -> Iterator[Tuple[str, str, str]]:
    """``(field, path, note)`` of the files a leaf dataset config reads,
    with the defaults of mmltml's benchmark datasets filled in."""
    cls = _dataset_class(cfg.get('type'))
    files = {k: cfg.get(k) for k in DATASET_FILE_FIELDS}
    notes = dict.fromkeys(DATASET_FILE_FIELDS, '')
    if isinstance(cls, type) and issubclass(cls, LTBenchmarkDataset):
        split = cfg.get('split', 'train')
        default = f' (default of {cls.__name__}, split={split!r})'
        if not files['ann_file']:
            files['ann_file'] = f'{cls.FILE_PREFIX}_{split}.txt'
            notes['ann_file'] = default
        if not files['caption_file'] and cfg.get('with_captions'):
            files['caption_file'] = f'{cls.FILE_PREFIX}_captions.txt'
            notes['caption_file'] = default
    data_root = cfg.get('data_root') or ''
    for field, path in files.items():
        if not isinstance(path, str) or not path or (
                field == 'label_file' and is_preset(path)):
            continue
        yield f'{where}.{field}', _join(data_root, path), notes[field]


def _class_stats_files(node, where: str) -> Iterator[Tuple[str, str, str]]:
    """Files named by every ``class_stats`` entry below ``node``."""
    for path, source in iter_class_stats_sources(node, where):
        if isinstance(source, str):
            yield path, source, ''
            continue
        root = source.get('data_root') or ''
        for field in ('ann_file', 'label_file'):
            name = source.get(field)
            if isinstance(name, str) and not (field == 'label_file'
                                              and is_preset(name)):
                yield f'{path}.{field}', _join(root, name), ''


def missing_data_files(cfg, sections: Sequence[str]) -> List[str]:
    """``'<config field>: <path>'`` for every data file that the config
    sections (e.g. ``'train_dataloader'``, ``'model'``,
    ``'val_evaluator'``) name and that does not exist."""
    found = []
    for section in sections:
        node = cfg.get(section)
        if node is None:
            continue
        if section.endswith('_dataloader') and isinstance(
                node.get('dataset'), dict):
            for leaf in leaf_dataset_cfgs(node['dataset']):
                found += _dataset_files(leaf, _where(node, leaf, section))
        found += _class_stats_files(node, section)
    missing, seen = [], set()
    for field, path, note in found:
        if (field, path) not in seen and not osp.isfile(path):
            missing.append(f'{field}: {path}{note}')
        seen.add((field, path))
    return missing


def _where(loader: dict, leaf: dict, section: str) -> str:
    """The config path of ``leaf`` inside ``loader`` (wrappers' ``dataset``
    keys spelt out)."""
    path, node = f'{section}.dataset', loader['dataset']
    while node is not leaf and isinstance(node.get('dataset'), dict):
        path, node = f'{path}.dataset', node['dataset']
    return path if node is leaf else f'{section}.dataset'


def check_data_files(cfg, sections: Sequence[str]) -> None:
    """Raise ``FileNotFoundError`` naming each missing data file and the
    config field that names it (see :func:`missing_data_files`)."""
    missing = missing_data_files(cfg, sections)
    if missing:
        raise FileNotFoundError(
            'Data files named by the config do not exist (relative paths '
            f'are taken from the working directory {osp.abspath(".")}):\n  '
            + '\n  '.join(missing) +
            '\nPrepare the data (docs/en/prepare_data.md; '
            'tools/dataset_converters/download_ltml.py fetches the COCO-LT /'
            ' VOC-LT files, nus_wide_to_list.py makes the NUS-WIDE-LT ones) '
            'or set the field, e.g. --cfg-options '
            '<field>=/path/to/file.')
