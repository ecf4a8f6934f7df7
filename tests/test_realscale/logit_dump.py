# Copyright (c) mmltml contributors. All rights reserved.
"""A test-only hook that records the raw logits of every evaluated image.

Imported by the real-scale test configs through ``custom_imports``: a
forward hook on the model's head catches its output (the logits, before
any sigmoid) in the validation and test loops, and each evaluation is saved
as ``<out_dir>/<mode>_<n>.pt`` with the image paths, the logits, the
``pred_score`` the model returned and the ground-truth labels, so the tests
can recompute the metric from the logits with sklearn.
"""
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from mmltml.models.heads import CLIPFineTuneHead


@HOOKS.register_module()
class HeadLogitDumpHook(Hook):
    """Save the head's logits of each validation / test run.

    Args:
        out_dir (str, optional): Folder of the ``<mode>_<n>.pt`` files;
            defaults to ``<work_dir>/logits``.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: Optional[str] = None) -> None:
        self.out_dir = out_dir
        self._handle = None
        self._last: Optional[torch.Tensor] = None
        self._records: List[dict] = []
        self._count = {'val': 0, 'test': 0}

    def _start(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._records = []
        self._handle = model.head.register_forward_hook(self._catch)

    def _catch(self, module, args, output) -> None:
        self._last = output.detach().float().cpu().clone()

    def _collect(self, outputs) -> None:
        assert self._last is not None and len(self._last) == len(outputs)
        for logits, sample in zip(self._last, outputs):
            self._records.append(
                dict(img_path=sample.img_path, logits=logits,
                     pred_score=sample.pred_score.detach().float().cpu(),
                     gt_label=sample.gt_label.cpu().tolist()))
        self._last = None

    def _finish(self, runner, mode: str) -> None:
        self._handle.remove()
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        scale = getattr(model.backbone, 'logit_scale', None)
        if isinstance(model.head, CLIPFineTuneHead):  # trained with CLIP
            scale = model.head.logit_scale().detach()
        out_dir = self.out_dir or osp.join(runner.work_dir, 'logits')
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, f'{mode}_{self._count[mode]}.pt')
        torch.save(
            dict(records=self._records,
                 logit_scale=None if scale is None else float(scale)), path)
        self._count[mode] += 1

    def before_val_epoch(self, runner) -> None:
        self._start(runner)

    def before_test_epoch(self, runner) -> None:
        self._start(runner)

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._collect(outputs)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._collect(outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish(runner, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish(runner, 'test')
