# Copyright (c) mmltml contributors. All rights reserved.
"""The raw logits of a multi-label head, kept in the predicted DataSample.

mmpretrain's multi-label heads store only ``pred_score = sigmoid(logits)``.
In fp32 the sigmoid is exactly 1.0 for every logit above about 16.6 (and
exactly 0.0 below about -103), while CLIP logits ``100 * cos`` lie around
15-35: most scores of a class would tie at 1.0 and an AP computed on them
is wrong. The heads of this package therefore also store the fp32 logits
under :data:`PRED_LOGITS`, which :class:`~mmltml.evaluation.GroupMAP` ranks
by; :class:`~mmltml.engine.hooks.HeadLogitsHook` does the same for stock
mmpretrain heads.
"""
from typing import List, Sequence

import torch
from mmpretrain.structures import DataSample

#: Name of the DataSample field holding the raw logits ``[C]`` (fp32).
PRED_LOGITS = 'pred_logits'


def attach_logits(data_samples: Sequence[DataSample],
                  cls_score: torch.Tensor,
                  overwrite: bool = True) -> List[DataSample]:
    """Store row ``i`` of ``cls_score`` ``[B, C]`` as ``pred_logits`` (fp32,
    detached) of ``data_samples[i]``; with ``overwrite=False`` samples that
    already have the field keep it."""
    if len(data_samples) != cls_score.size(0):
        raise ValueError(f'{len(data_samples)} data samples for '
                         f'{cls_score.size(0)} rows of logits')
    logits = cls_score.detach().float()
    for sample, row in zip(data_samples, logits):
        if overwrite or PRED_LOGITS not in sample:
            sample.set_field(row, PRED_LOGITS, dtype=torch.Tensor)
    return list(data_samples)
