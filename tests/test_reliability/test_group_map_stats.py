# Copyright (c) mmltml contributors. All rights reserved.
"""GroupMAP refuses class statistics that cannot be the training split's,
and leaves an empty group out (with the reason logged) instead of
reporting ``lt/mAP_head: nan``."""
import logging

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

from mmltml.evaluation.metrics.group_map import GroupMAP
from tests._tiny_setup import make_ltml_subset, smoke_config
from tests.test_reliability._utils import build_runner_from

LMPT_COCO = 'configs/lmpt/lmpt_vitb16_coco-lt.py'


def _results(target, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.random(target.shape)
    return [dict(pred_score=torch.tensor(s), gt_score=torch.tensor(t))
            for s, t in zip(scores, target)]


def _target(num_images, num_classes, seed=1):
    target = (np.random.default_rng(seed).random(
        (num_images, num_classes)) < 0.4).astype(np.int64)
    target[0] = 1  # every class has a positive
    return target


def test_statistics_of_the_evaluated_set_are_refused():
    target = _target(30, 4)
    own_counts = [int(target[:, k].sum()) for k in range(4)]
    metric = GroupMAP(class_freq=own_counts, head_thr=10, tail_thr=5)
    with pytest.raises(ValueError, match='label counts of the evaluated set'):
        metric.compute_metrics(_results(target))
    # the training split's counts are accepted
    other = GroupMAP(class_freq=[c + 7 for c in own_counts], head_thr=10,
                     tail_thr=5)
    assert 'mAP' in other.compute_metrics(_results(target))


@pytest.fixture
def warnings_logged():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize('class_freq,positive,absent,reason', [
    # every class is a tail class: no head, no medium class
    ([5, 6, 7, 8], [1, 1, 1, 1], ['head', 'medium'], 'has no class'),
    # the only head class has no positive in the evaluated set
    ([150, 50, 5, 6], [0, 1, 1, 1], ['head'],
     'has 1 classes but none with a positive'),
])
def test_an_empty_group_is_absent_not_nan(warnings_logged, class_freq,
                                          positive, absent, reason):
    target = _target(20, 4) * np.array(positive)
    metrics = GroupMAP(class_freq=class_freq).compute_metrics(
        _results(target))
    expected = {'mAP', 'mAP_head', 'mAP_medium', 'mAP_tail'} - {
        f'mAP_{g}' for g in absent}
    assert set(metrics) == expected
    assert all(np.isfinite(v) for v in metrics.values())
    logged = [r.getMessage() for r in warnings_logged]
    for group in absent:
        assert any(f'mAP_{group} is not reported: the {group} group '
                   f'{reason}' in m for m in logged), logged


def test_test_list_statistics_are_refused_before_training(
        ltml_dir, tmp_path, monkeypatch):
    root = make_ltml_subset(str(tmp_path), ltml_dir, 'coco', num_test=100)
    monkeypatch.chdir(tmp_path)
    with open(f'{root}/coco_lt_train.txt') as f:
        num_train = sum(1 for line in f if line.strip())
    assert num_train < 100
    cfg = smoke_config(str(tmp_path / 'cfg.py'), LMPT_COCO)
    runner = build_runner_from(
        cfg, str(tmp_path / 'work'),
        options={'val_evaluator.class_stats': dict(
            ann_file='data/coco/coco_lt_test.txt',
            label_file='data/coco/coco_labels.txt')})
    with pytest.raises(ValueError) as info:
        runner.train()
    assert (f'count 100 images, more than the {num_train} of the training '
            'list data/coco/coco_lt_train.txt') in str(info.value)
    assert runner.iter == 0
