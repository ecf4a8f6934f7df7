# Copyright (c) mmltml contributors. All rights reserved.
import csv
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample
from sklearn.metrics import average_precision_score

from mmltml.evaluation import (GroupMAP, average_precision,
                               classwise_average_precision)

FREQ = [300, 150, 100, 99, 50, 20, 19, 5, 1, 0]  # 3 head, 3 medium, 4 tail
GROUPS = dict(head=[0, 1, 2], medium=[3, 4, 5], tail=[6, 7, 8, 9])


def _random_tied(n=300, c=len(FREQ), seed=0):
    """Quantised scores (many ties) and random multi-hot targets."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=(n, c)), 1)
    target = (rng.random((n, c)) < 0.2).astype(np.int64)
    target[:, 9] = 1  # a class with only positives
    target[0, 9] = 0
    return scores, target


def _results(scores, target):
    return [
        dict(pred_score=torch.tensor(s), gt_score=torch.tensor(t))
        for s, t in zip(scores, target)
    ]


def test_ap_matches_sklearn_with_ties():
    assert average_precision(
        np.array([.5, .5, .3, .1]), np.array([1, 0, 1, 0])) == pytest.approx(
            0.5833333, abs=1e-6)
    for seed in range(5):
        scores, target = _random_tied(seed=seed)
        assert len(np.unique(scores[:, 0])) < 100  # ties present
        ours = classwise_average_precision(scores, target)
        ref = average_precision_score(target, scores, average=None)
        np.testing.assert_allclose(ours, ref, atol=1e-6)
    # all-tied scores: AP = prevalence
    y = np.array([1, 0, 0, 1, 0])
    assert average_precision(np.zeros(5), y) == pytest.approx(0.4)
    assert np.isnan(average_precision(np.arange(3.), np.zeros(3)))


def test_group_means_sklearn_and_weighted_total():
    scores, target = _random_tied(seed=1)
    metric = GroupMAP(class_freq=FREQ)
    res = metric.compute_metrics(_results(scores, target))
    ap = average_precision_score(target, scores, average=None) * 100
    assert res['mAP'] == pytest.approx(ap.mean(), abs=1e-4)
    for g, idx in GROUPS.items():
        assert res[f'mAP_{g}'] == pytest.approx(ap[idx].mean(), abs=1e-4)
    weighted = sum(res[f'mAP_{g}'] * len(idx) for g, idx in GROUPS.items())
    assert res['mAP'] == pytest.approx(weighted / len(FREQ), abs=1e-6)


def test_sigmoid_keeps_the_ranking_only_where_it_does_not_saturate():
    """AP depends only on the ranking, and the sigmoid is increasing, so
    sigmoids of these N(0, 1) logits give the same numbers: |s| < 5 in
    float64 keeps distinct logits distinct. That is not true in general:
    at CLIP's logit scale (logit_scale.exp() = 100 times a cosine) fp32
    sigmoids round most positive logits to exactly 1.0, and the ties
    destroy the ranking, which is why scores must reach the metric as
    logits."""
    scores, target = _random_tied(seed=1)
    metric = GroupMAP(class_freq=FREQ)
    res = metric.compute_metrics(_results(scores, target))
    sig = metric.compute_metrics(_results(1 / (1 + np.exp(-scores)), target))
    assert sig == pytest.approx(res, abs=1e-6)

    scaled = torch.tensor(scores * 30, dtype=torch.float32)
    saturated = torch.sigmoid(scaled)
    assert (saturated == 1).float().mean() > 0.2
    at_scale = metric.compute_metrics(_results(scaled.numpy(), target))
    assert at_scale == pytest.approx(res, abs=1e-6)  # logits: ranking kept
    # sigmoids: the ties change the AP (sklearn), and GroupMAP refuses them
    tied = average_precision_score(target, saturated.numpy(), average=None)
    assert abs(tied.mean() * 100 - res['mAP']) > 1
    with pytest.raises(ValueError, match='saturated'):
        metric.compute_metrics(_results(saturated.numpy(), target))


@pytest.mark.parametrize('policy', ['exclude', 'zero'])
def test_empty_class_policy(policy):
    scores, target = _random_tied(seed=2)
    target[:, [4, 7]] = 0  # a medium and a tail class without positives
    metric = GroupMAP(class_freq=FREQ, empty_class=policy)
    res = metric.compute_metrics(_results(scores, target))
    keep = [k for k in range(len(FREQ)) if k not in (4, 7)]
    ap = np.zeros(len(FREQ))
    ap[keep] = average_precision_score(
        target[:, keep], scores[:, keep], average=None) * 100
    if policy == 'exclude':
        assert res['mAP'] == pytest.approx(ap[keep].mean(), abs=1e-4)
        assert res['mAP_medium'] == pytest.approx(ap[[3, 5]].mean(), abs=1e-4)
        assert res['mAP_tail'] == pytest.approx(ap[[6, 8, 9]].mean(), abs=1e-4)
        weighted = (res['mAP_head'] * 3 + res['mAP_medium'] * 2 +
                    res['mAP_tail'] * 3) / 8
    else:  # like sklearn / mmpretrain: AP 0, counted
        assert res['mAP'] == pytest.approx(ap.mean(), abs=1e-4)
        assert res['mAP_tail'] == pytest.approx(
            ap[GROUPS['tail']].mean(), abs=1e-4)
        weighted = (res['mAP_head'] * 3 + res['mAP_medium'] * 3 +
                    res['mAP_tail'] * 4) / 10
    assert res['mAP'] == pytest.approx(weighted, abs=1e-6)


def test_uneven_shards_equal_single_pass():
    scores, target = _random_tied(n=101, seed=3)
    whole = GroupMAP(class_freq=FREQ)
    ranks = [GroupMAP(class_freq=FREQ) for _ in range(3)]
    samples = [
        DataSample().set_pred_score(torch.tensor(s)).set_gt_label(
            np.flatnonzero(t).tolist()) for s, t in zip(scores, target)
    ]
    for metric, chunk in zip(ranks,
                             (samples[:50], samples[50:53], samples[53:])):
        metric.process(None, [s.to_dict() for s in chunk])
    whole.process(None, [s.to_dict() for s in samples])
    collected = sum((m.results for m in ranks), [])
    assert len(collected) == 101
    split = ranks[0].compute_metrics(collected[::-1])  # order-independent
    assert split == pytest.approx(whole.compute_metrics(whole.results))


def test_evaluator_keys_prefix_and_dataset_meta():
    scores, target = _random_tied(n=40, seed=4)
    samples = [
        DataSample().set_pred_score(torch.tensor(s)).set_gt_score(
            torch.tensor(t)) for s, t in zip(scores, target)
    ]
    evaluator = Evaluator(
        METRICS.build(dict(type='GroupMAP', class_freq=FREQ)))
    evaluator.dataset_meta = dict(classes=[f'c{i}' for i in range(10)])
    evaluator.process(samples)
    res = evaluator.evaluate(40)
    assert set(res) == {
        'lt/mAP', 'lt/mAP_head', 'lt/mAP_medium', 'lt/mAP_tail'
    }
    other = GroupMAP(class_freq=FREQ, prefix='coco')
    other.process(None, [s.to_dict() for s in samples])
    assert 'coco/mAP' in other.evaluate(40)


def test_class_stats_sources_and_official_groups(tmp_path, ltml_dir):
    ref = dict(
        ann_file=osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'),
        label_file=osp.join(ltml_dir, 'voc', 'voc_labels.txt'))
    metric = GroupMAP(class_stats=ref)
    assert [
        len(metric.stats['groups'][g]) for g in ('head', 'medium', 'tail')
    ] == [6, 6, 8]
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(60, 20))
    target = (rng.random((60, 20)) < 0.3).astype(np.int64)
    res = metric.compute_metrics(_results(scores, target))
    ap = average_precision_score(target, scores, average=None) * 100
    # the VOC-LT tail classes (n < 20) of the official split
    tail = [0, 2, 3, 5, 9, 12, 16, 18]
    assert res['mAP_tail'] == pytest.approx(ap[tail].mean(), abs=1e-4)
    with pytest.raises(ValueError, match='5 classes but .* have 20'):
        metric.compute_metrics(_results(scores[:, :5], target[:, :5]))


def test_dump_csv_json_and_plot(tmp_path):
    scores, target = _random_tied(n=50, seed=5)
    target[:, 8] = 0
    metric = GroupMAP(class_freq=FREQ, dump_dir=str(tmp_path), plot=True)
    res = metric.compute_metrics(_results(scores, target))
    with open(tmp_path / 'per_class_ap.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(
        rows) == 10 and rows[8]['ap'] == '' and rows[8]['test_pos'] == '0'
    assert rows[3]['group'] == 'medium' and rows[3]['train_freq'] == '99'
    aps = [float(r['ap']) for r in rows if r['ap']]
    assert np.mean(aps) == pytest.approx(res['mAP'], abs=1e-3)
    assert (tmp_path / 'per_class_ap.png').stat().st_size > 1000
    metric = GroupMAP(
        class_freq=FREQ, dump_dir=str(tmp_path), dump_format='json')
    metric.compute_metrics(_results(scores, target))
    with open(tmp_path / 'per_class_ap.json') as f:
        data = json.load(f)
    assert data[8]['ap'] is None and data[0]['name'] == '0'


def test_argument_errors():
    with pytest.raises(ValueError, match='exactly one'):
        GroupMAP()
    with pytest.raises(ValueError, match='exactly one'):
        GroupMAP(class_freq=FREQ, class_stats=dict(class_freq=FREQ))
    with pytest.raises(ValueError, match='empty_class'):
        GroupMAP(class_freq=FREQ, empty_class='nan')
    with pytest.raises(ValueError, match='dump_format'):
        GroupMAP(class_freq=FREQ, dump_dir='x', dump_format='xml')
    with pytest.raises(ValueError, match='plot=True needs'):
        GroupMAP(class_freq=FREQ, plot=True)
    scores = np.zeros((3, 4))
    scores[2, 1], scores[0, 3] = np.nan, np.inf
    with pytest.raises(ValueError, match=r'2 score\(s\) are NaN or inf, '
                       r'e\.g\. \(sample, class\) \[\(0, 3\), \(2, 1\)\]'):
        classwise_average_precision(scores, np.ones((3, 4)))


def test_dump_dir_auto_uses_log_folder(tmp_path):
    from mmengine.logging import MMLogger
    log_file = tmp_path / 'run' / 'run.log'
    log_file.parent.mkdir()
    MMLogger.get_instance('group_map_auto_dump', log_file=str(log_file))
    scores, target = _random_tied(n=30, seed=6)
    GroupMAP(class_freq=FREQ, dump_dir='auto').compute_metrics(
        _results(scores, target))
    assert (tmp_path / 'run' / 'per_class_ap.csv').is_file()


@pytest.mark.parametrize('softmax', [True, False])
def test_softmax_scores_are_warned_about(monkeypatch, softmax):
    """Rows summing to 1 are softmax-over-classes scores: multi-label AP
    needs per-class scores (logits or sigmoids)."""
    from mmltml.evaluation.metrics import group_map
    messages = []
    monkeypatch.setattr(group_map, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    scores, target = _random_tied(seed=3)
    if softmax:
        scores = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    GroupMAP(class_freq=FREQ).compute_metrics(_results(scores, target))
    warned = [m for m in messages if 'softmax' in m]
    assert len(warned) == int(softmax)


@pytest.mark.parametrize('block', [7, 64, 10**6])
def test_blocks_of_classes_equal_sklearn_with_ties(monkeypatch, block):
    """compute_metrics reads the scores by blocks of classes (here 7 values
    per block: one class at a time; 64: 2 classes of 30 images, the last
    block shorter); the per-class APs are sklearn's, ties included, from
    the positive indices that process() keeps."""
    from mmltml.evaluation.metrics import group_map
    monkeypatch.setattr(group_map, 'BLOCK_ELEMENTS', block)
    rng = np.random.default_rng(7)
    scores = np.round(rng.normal(size=(30, 11)), 1).astype(np.float32)
    target = (rng.random((30, 11)) < 0.3).astype(np.int64)
    target[:, 10] = 0  # no positive
    target[3, 10] = 1
    metric = GroupMAP(class_freq=list(range(200, 0, -18))[:11],
                      dump_dir=None)
    metric.process(None, [
        dict(pred_logits=torch.tensor(s),
             gt_label=torch.tensor(np.flatnonzero(t)))
        for s, t in zip(scores, target)
    ])
    assert all(r['gt_positives'].numel() == t.sum()
               for r, t in zip(metric.results, target))
    captured = {}
    monkeypatch.setattr(metric, '_group_means', lambda ap: captured.update(
        ap=ap) or {'mAP': 0.0, 'mAP_head': 0.0, 'mAP_medium': 0.0,
                   'mAP_tail': 0.0})
    metric.compute_metrics(metric.results)
    ref = average_precision_score(target, scores, average=None) * 100
    np.testing.assert_allclose(captured['ap'], ref, atol=1e-9)


def test_labels_outside_the_classes_are_refused():
    metric = GroupMAP(class_freq=FREQ)
    results = _results(*_random_tied(n=5))
    results[2] = dict(pred_score=results[2]['pred_score'],
                      gt_positives=torch.tensor([1, 10]))
    with pytest.raises(ValueError, match=r'image 2 .* outside 0\.\.9'):
        metric.compute_metrics(results)


def test_stored_scores_do_not_keep_or_follow_the_batch():
    """process() keeps a copy of each image's row, not a view of the
    batch's scores: a caller that reuses the batch tensor in place does not
    change the result (and a kept row does not hold the whole batch's
    memory)."""
    scores, target = _random_tied(seed=2)
    batch = torch.tensor(scores)
    metric = GroupMAP(class_freq=FREQ)
    metric.process(None, [dict(pred_logits=row, gt_score=torch.tensor(t))
                          for row, t in zip(batch, target)])
    batch.mul_(-1)  # e.g. a buffer the next batch is written into
    stored = metric.results[0]['pred_logits']
    assert stored.untyped_storage().nbytes() == stored.numel() * 8
    res = metric.compute_metrics(metric.results)
    ap = average_precision_score(target, scores, average=None) * 100
    assert res['mAP'] == pytest.approx(ap.mean(), abs=1e-4)
