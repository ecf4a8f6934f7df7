# Copyright (c) mmltml contributors. All rights reserved.
"""The checker and the datasets read list files with one reader.

Before, ``tools/misc/check_dataset.py`` passed an empty training or test
list and ``./x.jpg`` duplicating ``x.jpg``; the runs then crashed with
``need at least one array to concatenate`` or a misleading "has no
caption". A UTF-8 byte-order mark put an invisible character into the
first path (and its caption went missing) and into the first class name.
"""
import codecs
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from mmltml.datasets import VOC_LT_CLASSES, load_class_stats
from mmltml.utils.dataset_cfg import leaf_dataset_cfgs
from tests.test_reliability.test_check_dataset import (  # noqa: F401
    CAPTIONS, TEST, TRAIN, _lines, _write, check_dataset, workspace)

LABELS = 'data/voc/voc_labels.txt'


def _dataset(cfg, split):
    """The first list dataset of a split, loaded as a run loads it."""
    config = Config.fromfile(cfg)
    init_default_scope('mmpretrain')
    (leaf, ) = leaf_dataset_cfgs(config[f'{split}_dataloader'].dataset)
    return DATASETS.build(dict(leaf, pipeline=[]))


def _problems(out):
    return [line.split('PROBLEM ', 1)[1] for line in out.splitlines()
            if 'PROBLEM ' in line]


def _empty(path):
    _write(path, [])


def _dot_slash_duplicate(path):
    lines = _lines(path)
    first, labels = lines[0].split(None, 1)
    _write(path, lines + [f'./{first} {labels}'])


@pytest.mark.parametrize('split,path,edit,message', [
    ('train', TRAIN, _empty, 'the list file has no image lines'),
    ('test', TEST, _empty, 'the list file has no image lines'),
    ('train', TRAIN, _dot_slash_duplicate, 'line 15: duplicate image'),
])
def test_checker_refuses_what_the_run_refuses(check_dataset, workspace,
                                              capsys, split, path, edit,
                                              message):
    _, cfg = workspace
    edit(path)
    with pytest.raises(ValueError, match=message) as error:
        _dataset(cfg, split)
    assert check_dataset.main([cfg, '--splits', split]) == 1
    assert str(error.value) in _problems(capsys.readouterr().out)


def test_byte_order_mark_is_dropped(check_dataset, workspace, capsys):
    root, cfg = workspace
    for path in (TRAIN, CAPTIONS, LABELS):
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(codecs.BOM_UTF8 + data)
    assert check_dataset.main([cfg]) == 0, capsys.readouterr().out
    train = _dataset(cfg, 'train')
    assert train.metainfo['classes'] == tuple(VOC_LT_CLASSES)
    first = _lines(TRAIN)[0].split()[0].lstrip('\ufeff')
    assert train.get_data_info(0)['img_path'] == osp.join('data/voc', first)
    assert train.num_captions == len(train) == 14
    stats = load_class_stats(dict(ann_file=str(root / TRAIN),
                                  label_file=str(root / LABELS)))
    assert stats['classes'] == list(VOC_LT_CLASSES)
    assert stats['num_images'] == 14
