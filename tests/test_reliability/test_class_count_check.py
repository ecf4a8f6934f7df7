# Copyright (c) mmltml contributors. All rights reserved.
"""ClassCountCheckHook: class counts of config, dataset and statistics that
disagree stop the run before any data is processed, naming each number."""
import pytest

from mmltml.datasets import compute_class_stats, save_class_stats
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
