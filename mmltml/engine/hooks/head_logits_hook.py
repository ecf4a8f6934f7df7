# Copyright (c) mmltml contributors. All rights reserved.
"""Keep the logits of any mmpretrain head in the predicted DataSamples."""
from typing import List

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmltml.models.heads.logits import record_head_logits

__all__ = ['HeadLogitsHook', 'record_head_logits']


@HOOKS.register_module()
class HeadLogitsHook(Hook):
    """Store the head's raw logits as ``pred_logits`` during validation
    and testing, for stock heads that keep only ``pred_score``
    (:mod:`mmltml.models.heads.logits` says why ``GroupMAP`` needs them).

    This hook installs :func:`record_head_logits` (public torch forward
    hooks) before each validation / test run and removes it afterwards;
    heads that already store ``pred_logits`` (mmltml's) keep theirs.

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
