# Copyright (c) mmltml contributors. All rights reserved.
"""Missing data files are reported, with the config field naming each,
before a model is built."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

import mmltml  # noqa: F401
from mmltml.utils.data_files import check_data_files, missing_data_files
from tests._tiny_setup import REPO_ROOT

STATS = dict(ann_file='data/coco/coco_lt_train.txt',
             label_file='data/coco/coco_labels.txt')


def coco_cfg():
    return Config(dict(
        train_dataloader=dict(dataset=dict(
            type='CachedFeatureDataset',
            dataset=dict(type='COCOLTDataset', data_root='data/coco',
                         split='train', with_captions=True))),
        test_dataloader=dict(dataset=dict(
            type='COCOLTDataset', data_root='data/coco', split='test',
            label_file='coco_labels.txt')),
        test_evaluator=[dict(type='AveragePrecision'),
                        dict(type='GroupMAP', class_stats=STATS)],
        model=dict(head=dict(loss=dict(type='DBLoss',
                                       class_stats='stats/coco.json')))))


def touch(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'w').close()


def test_every_missing_file_is_named_with_its_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch('data/coco/coco_lt_train.txt')
    assert sorted(missing_data_files(coco_cfg(), [
        'train_dataloader', 'test_dataloader', 'test_evaluator', 'model'
    ])) == sorted([
        'train_dataloader.dataset.dataset.caption_file: '
        "data/coco/coco_lt_captions.txt (default of COCOLTDataset, "
        "split='train')",
        "test_dataloader.dataset.ann_file: data/coco/coco_lt_test.txt "
        "(default of COCOLTDataset, split='test')",
        'test_dataloader.dataset.label_file: data/coco/coco_labels.txt',
        'test_evaluator[1].class_stats.label_file: data/coco/coco_labels.txt',
        'model.head.loss.class_stats: stats/coco.json',
    ])
    for name in ('coco_lt_captions.txt', 'coco_lt_test.txt',
                 'coco_labels.txt'):
        touch(f'data/coco/{name}')
    touch('stats/coco.json')
    check_data_files(coco_cfg(), ['train_dataloader', 'test_dataloader',
                                  'test_evaluator', 'model'])


def test_presets_and_absent_sections_are_not_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config(dict(val_dataloader=dict(dataset=dict(
        type='LTMultiLabelDataset', ann_file='/abs/list.txt',
        label_file='voc-lt'))))
    assert missing_data_files(cfg, ['val_dataloader', 'train_dataloader']) \
        == ['val_dataloader.dataset.ann_file: /abs/list.txt']


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_tools_stop_before_building_the_model(tool, tmp_path):
    """The synthetic configs on a machine without data/synthetic."""
    config = osp.join(REPO_ROOT, 'configs', 'synthetic',
                      'lmpt_tinyclip_synthetic.py')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', tool), config,
         '--work-dir', 'work'], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    split = 'train' if tool == 'train.py' else 'test'
    assert f'{split}_dataloader.dataset.dataset.ann_file: ' \
        f'data/synthetic/{split}.txt' in proc.stderr
    assert 'FileNotFoundError: Data files named by the config' in \
        proc.stderr
    assert 'CLIPPromptBackbone' not in proc.stderr  # nothing was built
