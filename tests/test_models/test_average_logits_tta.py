# Copyright (c) mmltml contributors. All rights reserved.
"""AverageLogitsTTA: the merged prediction of the views of one image."""
import torch
from mmpretrain.structures import DataSample

from mmltml.models import AverageLogitsTTA
from mmltml.models.heads.logits import PRED_LOGITS


def _view(logits: torch.Tensor, with_logits: bool = True) -> DataSample:
    sample = DataSample().set_pred_score(torch.sigmoid(logits))
    if with_logits:
        sample.set_field(logits, PRED_LOGITS, dtype=torch.Tensor)
    return sample


def test_views_logits_and_scores_are_averaged():
    """CLIP-scale logits: the sigmoids of both views are 1.0 for the first
    two classes, the mean logits still order them."""
    a = torch.tensor([30., 20., -3.])
    b = torch.tensor([18., 26., 1.])
    merged = AverageLogitsTTA(module=dict(type='mmpretrain.ImageClassifier',
                                          backbone=dict(type='ResNet',
                                                        depth=18)))
    out = merged.merge_preds([[_view(a), _view(b)]])[0]
    torch.testing.assert_close(out.get(PRED_LOGITS), torch.tensor(
        [24., 23., -1.]))
    torch.testing.assert_close(
        out.pred_score, (torch.sigmoid(a) + torch.sigmoid(b)) / 2)


def test_first_view_logits_are_not_passed_off_as_the_merge():
    merged = AverageLogitsTTA(module=dict(type='mmpretrain.ImageClassifier',
                                          backbone=dict(type='ResNet',
                                                        depth=18)))
    views = [_view(torch.tensor([3., 1.])),
             _view(torch.tensor([1., 3.]), with_logits=False)]
    out = merged.merge_preds([views])[0]
    assert PRED_LOGITS not in out
