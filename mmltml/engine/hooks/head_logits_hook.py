# Copyright (c) mmltml contributors. All rights reserved.
"""Keep the logits of any mmpretrain head in the predicted DataSamples."""
from typing import List

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmpretrain.registry import HOOKS
from mmpretrain.structures import DataSample

from mmltml.models.heads.logits import attach_logits


def record_head_logits(model: nn.Module) -> List:
    """Attach ``model.head``'s output to the model's predictions.

    Two public torch forward hooks: one on ``model.head`` remembers the
    logits ``[B, C]`` its forward returns (mmpretrain heads compute them in
    ``predict`` through ``self(feats)``), one on ``model`` stores them as
    ``pred_logits`` (fp32) in the DataSamples a ``mode='predict'`` forward
    returns, unless the head already did (mmltml's heads). Other forward
    passes (losses, tensors) are left alone.

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


@HOOKS.register_module()
class HeadLogitsHook(Hook):
    """Store the head's raw logits as ``pred_logits`` during validation
    and testing, for heads that keep only ``pred_score``.

    mmpretrain's multi-label heads store ``pred_score = sigmoid(logits)``
    only, and the fp32 sigmoid is exactly 1.0 above a logit of about 16.6:
    a metric that ranks such scores sees ties the logits did not have.
    ``GroupMAP`` ranks by ``pred_logits`` when the samples have them. This
    hook installs :func:`record_head_logits` (public torch forward hooks)
    before each validation / test run and removes it afterwards; heads that
    already store ``pred_logits`` (mmltml's) keep theirs.

    The default runtime registers it in ``default_hooks`` as
    ``head_logits``.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self._handles: List = []

    def _install(self, runner) -> None:
        self._remove()
        self._handles = record_head_logits(runner.model)

    def _remove(self, *args, **kwargs) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def before_val(self, runner) -> None:
        """Record the logits of this validation run."""
        self._install(runner)

    def before_test(self, runner) -> None:
        """Record the logits of this test run."""
        self._install(runner)

    after_val = _remove
    after_test = _remove

