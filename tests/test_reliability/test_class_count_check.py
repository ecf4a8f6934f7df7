# Copyright (c) mmltml contributors. All rights reserved.
"""ClassCountCheckHook: class counts of config, dataset and statistics that
disagree stop the run before any data is processed, naming each number."""
import pytest
import torch.nn as nn
from mmpretrain.models.heads import MultiLabelLinearClsHead

from mmltml.datasets import compute_class_stats, save_class_stats
from mmltml.engine.hooks import ClassCountCheckHook
from mmltml.evaluation.metrics.group_map import GroupMAP
from mmltml.models.losses.db_loss import DBLoss
from mmltml.structures import ClassDependent, ClassField
from tests._tiny_setup import make_ltml_subset, make_tiny_project, smoke_config
from tests.test_reliability._utils import build_runner_from

LMPT_COCO = 'configs/lmpt/lmpt_vitb16_coco-lt.py'


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_tiny_project(str(tmp_path_factory.mktemp('tiny')))


def test_num_classes_of_the_config_differs_from_the_dataset(tiny, tmp_path):
    options = {
        'model.head.num_classes': 5,
        'model.data_preprocessor.num_classes': 5
    }
    runner = build_runner_from(tiny, str(tmp_path / 'train'), options=options)
    with pytest.raises(ValueError) as info:
        runner.train()
    message = str(info.value)
    assert 'the training dataset MultiLabelDataset (' in message
    assert 'train.json) has 4 classes' in message
    assert 'model.head.num_classes (MultiLabelLinearClsHead): 5 classes' \
        in message
    assert ('model.data_preprocessor.num_classes (ClsDataPreprocessor): '
            '5 classes') in message
    assert runner.iter == 0

    runner = build_runner_from(tiny, str(tmp_path / 'test'), options=options)
    with pytest.raises(ValueError, match='the test dataset MultiLabelDataset'):
        runner.test()


def test_matching_counts_pass(tiny, tmp_path):
    runner = build_runner_from(
        tiny, str(tmp_path), options={'train_cfg.max_epochs': 1})
    runner.train()
    assert runner.iter == 4


def test_class_statistics_of_another_label_space(ltml_dir, tmp_path,
                                                 monkeypatch):
    make_ltml_subset(str(tmp_path), ltml_dir, 'coco')
    monkeypatch.chdir(tmp_path)
    stats = str(tmp_path / 'voc_stats.json')  # 20 classes, COCO-LT has 80
    save_class_stats(compute_class_stats([[i] for i in range(20)], 20), stats)
    cfg = smoke_config(str(tmp_path / 'cfg.py'), LMPT_COCO)
    runner = build_runner_from(
        cfg, str(tmp_path / 'work'),
        options={
            'model.head.loss.class_stats': stats,
            'model.head.cse_loss.class_stats': stats,
            'val_evaluator.class_stats': stats
        })
    hooks = {type(hook).__name__ for hook in runner.hooks}
    # default_hooks survive the dataset base's custom_hooks list
    assert {'FiniteLossHook', 'ClassCountCheckHook',
            'FeatureCacheHook'} <= hooks
    with pytest.raises(ValueError) as info:
        runner.train()
    message = str(info.value)
    assert ('the training dataset COCOLTDataset (data/coco/coco_lt_train.txt'
            ') has 80 classes') in message
    for source in ('model.head.loss_module.class_freq (DBLoss class '
                   'statistics)',
                   'model.head.cse_module.class_freq (CSELoss class '
                   'statistics)', 'metric GroupMAP class statistics'):
        assert f'{source}: 20 classes' in message
    assert '.classnames (' not in message  # the prompts have 80 classes
    # found before FeatureCacheHook encodes any image
    assert not runner.train_dataloader.dataset.cached


def test_loss_statistics_of_another_split_are_refused(ltml_dir, tmp_path,
                                                      monkeypatch):
    root = make_ltml_subset(str(tmp_path), ltml_dir, 'coco')
    monkeypatch.chdir(tmp_path)
    with open(f'{root}/coco_lt_train.txt') as f:
        num_train = sum(1 for line in f if line.strip())
    # 80 classes, every class present, more images than the training list
    stats = str(tmp_path / 'bigger_stats.json')
    labels = [[i] for i in range(80)] * (num_train // 80 + 2)
    save_class_stats(compute_class_stats(labels, 80), stats)
    cfg = smoke_config(str(tmp_path / 'cfg.py'), LMPT_COCO)
    runner = build_runner_from(
        cfg, str(tmp_path / 'work'),
        options={'model.head.loss.class_stats': stats})
    with pytest.raises(ValueError) as info:
        runner.train()
    assert ('model.head.loss_module.class_freq (DBLoss class statistics): '
            f'count {len(labels)} images, more than the {num_train} of the '
            'training list data/coco/coco_lt_train.txt') in str(info.value)
    assert 'CSELoss' not in str(info.value)  # the training list's
    assert runner.iter == 0


class _Declared(nn.Module, ClassDependent):
    """A component of another project: it declares its class count."""

    def __init__(self, count):
        super().__init__()
        self.count = count

    def class_fields(self):
        return [ClassField('count', self.count, 'label table')]


def test_fields_are_declared_not_found_by_name():
    model = nn.Module()
    model.head = MultiLabelLinearClsHead(num_classes=7, in_channels=4)
    model.head.loss_module = DBLoss(class_freq=[5, 4, 3], train_num=9)
    model.extra = _Declared(6)
    model.undeclared = nn.Module()
    model.undeclared.num_classes = 2  # a name alone declares nothing
    fields = ClassCountCheckHook.model_fields(model)
    assert [(where, f.num_classes, f.num_images) for where, f in fields] == [
        ('model.head.num_classes (MultiLabelLinearClsHead)', 7, None),
        ('model.head.loss_module.class_freq (DBLoss class statistics)', 3,
         9),
        ('model.extra.count (_Declared label table)', 6, None),
    ]
    metric = GroupMAP(class_freq=[150, 50, 5, 1])
    assert [(where, f.num_classes) for where, f in
            ClassCountCheckHook.metric_fields([metric])] == [
        ('metric GroupMAP class statistics', 4)]
