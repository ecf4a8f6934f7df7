# Copyright (c) mmltml contributors. All rights reserved.
"""MultiLabelInferencer's result rule: every class at or above ``thr`` (or
the ``topk`` best), best first, with names and scores."""
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmltml.apis import MultiLabelInferencer

SCORES = np.array([0.2, 0.9, 0.5, 0.7, 0.49])
NAMES = ['cat', 'dog', 'bird', 'fish', 'cow']


def _inferencer(thr=0.5, topk=None, classes=NAMES):
    infer = MultiLabelInferencer.__new__(MultiLabelInferencer)  # no model
    infer.thr, infer.topk, infer.classes = thr, topk, classes
    return infer


def _result(infer):
    sample = DataSample().set_pred_score(torch.from_numpy(SCORES))
    (result, ) = infer.postprocess([sample], None)
    return result


@pytest.mark.parametrize('thr', [0.5, 0.8, 0.95])
def test_threshold_keeps_scores_at_or_above_it_best_first(thr):
    result = _result(_inferencer(thr=thr))
    expected = sorted(np.flatnonzero(SCORES >= thr), key=lambda i: -SCORES[i])
    assert result['pred_labels'] == [int(i) for i in expected]
    assert result['pred_label_scores'] == pytest.approx(SCORES[expected])
    assert result['pred_classes'] == [NAMES[i] for i in expected]
    np.testing.assert_allclose(result['pred_scores'], SCORES)


def test_topk_ignores_the_threshold():
    result = _result(_inferencer(thr=0.99, topk=3))
    assert result['pred_labels'] == [1, 3, 2]
    assert result['pred_classes'] == ['dog', 'fish', 'bird']


def test_without_class_names_only_indices():
    result = _result(_inferencer(classes=None))
    assert 'pred_classes' not in result and result['pred_labels'] == [1, 3, 2]


def test_data_samples_pass_through_on_request():
    sample = DataSample().set_pred_score(torch.from_numpy(SCORES))
    assert _inferencer().postprocess([sample], None,
                                     return_datasamples=True) == [sample]


def test_saturated_scores_are_ranked_by_their_logits():
    """CLIP-scale logits all have an fp32 sigmoid of 1.0; the logits give
    the order and are reported next to the scores."""
    logits = torch.tensor([17.5, 31.0, 24.2, -3.0, 16.9])
    sample = DataSample().set_pred_score(torch.sigmoid(logits))
    sample.set_field(logits, 'pred_logits')
    (result, ) = _inferencer(thr=0.5).postprocess([sample], None)
    assert result['pred_labels'] == [1, 2, 0, 4]
    assert result['pred_label_logits'] == pytest.approx([31.0, 24.2, 17.5,
                                                         16.9])
    assert result['pred_label_scores'] == pytest.approx(
        torch.sigmoid(logits)[[1, 2, 0, 4]].tolist())
    np.testing.assert_array_equal(result['pred_logits'], logits.numpy())
    (top, ) = _inferencer(topk=2).postprocess([sample], None)
    assert top['pred_classes'] == ['dog', 'bird']
