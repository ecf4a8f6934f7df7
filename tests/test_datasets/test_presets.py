# Copyright (c) mmltml contributors. All rights reserved.
"""Every benchmark preset (``mmltml.datasets.benchmark_datasets``), found by
itself: its class names, its fixture, its base configs and its docs. A new
benchmark is covered here without editing this file."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmltml.datasets import (LTBenchmarkDataset, benchmark_datasets,
                             get_class_names, preset_names, read_label_file)
from tests._tiny_setup import REPO_ROOT, make_dataset_fixture
from tests.conftest import LTML_DIR

PRESETS = benchmark_datasets()


def test_the_known_benchmarks_are_presets():
    names = {cls.PRESET for cls in PRESETS}
    assert {'coco-lt', 'voc-lt', 'nus-wide-lt'} <= names
    assert names == set(preset_names())


@pytest.mark.parametrize('cls', PRESETS, ids=lambda c: c.PRESET)
def test_preset_class_names(cls):
    classes = cls.METAINFO['classes']
    assert get_class_names(cls.PRESET) == list(classes)
    assert get_class_names(cls.PRESET.upper().replace('-', '_')) == list(
        classes)
    assert len(set(classes)) == len(classes)


@pytest.mark.parametrize('cls', PRESETS, ids=lambda c: c.PRESET)
@pytest.mark.parametrize('official', [False, True])
def test_preset_fixture_builds_the_dataset(cls, official, tmp_path):
    """Generated files, and (when present) a subset of the official ones,
    read by the preset's dataset with its default file names."""
    src = osp.join(LTML_DIR, osp.basename(cls.DATA_ROOT))
    if official and not osp.isfile(osp.join(src, cls.LABEL_FILE)):
        pytest.skip(f'no official files of {cls.PRESET} in {src}')
    root = make_dataset_fixture(str(tmp_path), cls,
                                LTML_DIR if official else None)
    assert root == osp.join(str(tmp_path), cls.DATA_ROOT)
    files = cls.files()
    assert read_label_file(osp.join(root, files.labels)) == list(
        cls.METAINFO['classes'])
    train = cls(root, with_captions=cls.HAS_CAPTIONS,
                label_file=files.labels)
    test = cls(root, split='test')
    stats = train.class_stats
    assert min(stats['class_freq']) >= 1  # every class has training images
    assert len(test) > 0 and test.test_mode
    for ds in (train, test):
        assert osp.isfile(ds.get_data_info(0)['img_path'])
    if cls.HAS_CAPTIONS:
        assert train.num_captions == len(train)


@pytest.mark.parametrize('cls', PRESETS, ids=lambda c: c.PRESET)
def test_preset_base_configs_name_its_dataset(cls):
    """``configs/_base_/datasets/<preset>_*.py`` exist and point at the
    preset's dataset, data root, list and label files."""
    paths = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '_base_',
                                      'datasets', f'{cls.PRESET}_*.py')))
    assert paths, f'no base config for {cls.PRESET}'
    files = cls.files()
    for path in paths:
        cfg = Config.fromfile(path)
        assert cfg.dataset_type == cls.__name__, path
        assert cfg.data_root == cls.DATA_ROOT, path
        assert cfg.num_classes == len(cls.METAINFO['classes']), path
        assert cfg.class_stats == dict(
            ann_file=f'{cls.DATA_ROOT}/{files.train}',
            label_file=f'{cls.DATA_ROOT}/{files.labels}'), path
        for key in ('train_dataloader', 'val_dataloader'):
            leaf = cfg[key].dataset
            while 'dataset' in leaf:
                leaf = leaf.dataset
            assert (leaf.type, leaf.data_root) == (cls.__name__,
                                                   cls.DATA_ROOT), path


@pytest.mark.parametrize('cls', PRESETS, ids=lambda c: c.PRESET)
def test_preset_is_documented(cls):
    with open(osp.join(REPO_ROOT, 'docs', 'en', 'prepare_data.md')) as f:
        doc = f.read()
    for name in cls.files():
        if name:
            assert name in doc, (cls.PRESET, name)


def test_a_preset_must_be_complete():
    with pytest.raises(TypeError, match=r"\['LABEL_FILE'\]"):
        type('Broken', (LTBenchmarkDataset, ), dict(
            METAINFO={'classes': ('a', 'b')}, PRESET='broken-lt',
            DATA_ROOT='data/broken', FILE_PREFIX='broken'))
    with pytest.raises(ValueError, match='already registered'):
        type('Clash', (LTBenchmarkDataset, ), dict(
            METAINFO={'classes': ('a', 'b')}, PRESET='voc-lt',
            DATA_ROOT='data/x', FILE_PREFIX='x', LABEL_FILE='x.txt'))
    assert 'broken-lt' not in preset_names()
