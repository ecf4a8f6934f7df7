# Copyright (c) mmltml contributors. All rights reserved.
"""Test-time augmentation that averages the raw logits of the views."""
from typing import List

import torch
from mmpretrain.models.tta import AverageClsScoreTTA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..heads.logits import PRED_LOGITS


@MODELS.register_module()
class AverageLogitsTTA(AverageClsScoreTTA):
    """mmpretrain's ``AverageClsScoreTTA`` that also averages
    ``pred_logits``.

    ``pred_score`` is the mean of the views' scores, as in mmpretrain. The
    merged sample would otherwise keep the first view's ``pred_logits``
    (``DataSample.new`` copies every field), and :class:`GroupMAP`, which
    ranks by the logits, would evaluate that view alone. Here ``pred_logits``
    is the mean of the views' logits when every view has them.
    """

    def _merge_single_sample(
            self, data_samples: List[DataSample]) -> DataSample:
        merged = super()._merge_single_sample(data_samples)
        if all(PRED_LOGITS in sample for sample in data_samples):
            logits = torch.stack(
                [sample.get(PRED_LOGITS) for sample in data_samples])
            merged.set_field(logits.mean(0), PRED_LOGITS, dtype=torch.Tensor)
        elif PRED_LOGITS in merged:
            merged.pop(PRED_LOGITS)  # one view's logits are not the merge
        return merged
