# Copyright (c) mmltml contributors. All rights reserved.
"""``pred_logits``: the raw logits of a multi-label head, kept in each
predicted DataSample. Every ``pred_logits`` of mmltml is written here.

**Why.** mmpretrain's multi-label heads store only
``pred_score = sigmoid(logits)``. In fp32 the sigmoid is exactly 1.0 for
every logit above about 16.6 (and exactly 0.0 below about -103), while
CLIP logits ``100 * cos`` lie around 15-35 (and a trained CNN or VSI head
also passes 16.6): most scores of a class would tie at 1.0, and an AP
computed on them is wrong (measured in ``docs/en/protocol.md``). So the
fp32 logits are kept too, under :data:`PRED_LOGITS`, and
:class:`~mmltml.evaluation.GroupMAP`, the test-time augmentation and the
inferencer rank by them. This is the one place in the code that explains
it; the others link here.

**How.** One writer, :func:`attach_logits`, reached in two ways:

- mmltml's heads (and any new head) inherit :class:`PredLogitsMixin`
  before mmpretrain's ``MultiLabelClsHead``: their predictions always
  carry ``pred_logits``;
- stock mmpretrain heads get them from :func:`record_head_logits` (two
  public torch forward hooks), which
  :class:`~mmltml.engine.hooks.HeadLogitsHook` installs for validation and
  testing and :class:`~mmltml.apis.MultiLabelInferencer` for inference.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseTTAModel, is_model_wrapper
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


class PredLogitsMixin:
    """Predictions with ``pred_logits``, for a subclass of mmpretrain's
    ``MultiLabelClsHead`` (list this mixin first)::

        class MyHead(PredLogitsMixin, MultiLabelClsHead): ...

    ``predict`` then returns mmpretrain's ``pred_score`` / ``pred_label``
    plus the scores ``forward`` returned, as ``pred_logits``.
    """

    def _get_predictions(self, cls_score: torch.Tensor,
                         data_samples: Optional[List[DataSample]]
                         ) -> List[DataSample]:
        """mmpretrain's predictions plus ``pred_logits``."""
        data_samples = super()._get_predictions(cls_score, data_samples)
        return attach_logits(data_samples, cls_score)


def record_head_logits(model: nn.Module) -> List:
    """Attach ``model.head``'s output to the model's predictions.

    Two public torch forward hooks: one on ``model.head`` remembers the
    logits ``[B, C]`` its forward returns (mmpretrain heads compute them in
    ``predict`` through ``self(feats)``), one on ``model`` stores them as
    ``pred_logits`` (fp32) in the DataSamples a ``mode='predict'`` forward
    returns, unless the head already did (:class:`PredLogitsMixin`). Other
    forward passes (losses, tensors) are left alone.

    Args:
        model (nn.Module): A classifier with a ``head`` (a model wrapper or
            a test-time-augmentation model is unwrapped: each view's
            predictions get their logits, which
            :class:`~mmltml.models.AverageLogitsTTA` averages).

    Returns:
        list: The torch hook handles; ``handle.remove()`` undoes it.
    """
    if is_model_wrapper(model):
        model = model.module
    if isinstance(model, BaseTTAModel):
        model = model.module
    head = getattr(model, 'head', None)
    if not isinstance(head, nn.Module):
        raise TypeError(f'{type(model).__name__} has no head module whose '
                        'logits could be recorded')
    last = {}

    def remember(module, args, output) -> None:
        last['logits'] = (output.detach()
                          if isinstance(output, torch.Tensor) else None)

    def attach(module, args, kwargs, output) -> None:
        logits = last.pop('logits', None)
        if (logits is None or kwargs.get('mode') != 'predict'
                or not isinstance(output, list) or not output
                or not all(isinstance(s, DataSample) for s in output)
                or logits.dim() != 2 or logits.size(0) != len(output)):
            return
        attach_logits(output, logits, overwrite=False)

    return [
        head.register_forward_hook(remember),
        model.register_forward_hook(attach, with_kwargs=True)
    ]
