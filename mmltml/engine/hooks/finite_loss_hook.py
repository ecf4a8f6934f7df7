# Copyright (c) mmltml contributors. All rights reserved.
"""Stop training at the first NaN / inf loss, before it is checkpointed."""
import math
import os.path as osp
from typing import Dict, Optional, Union

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise ``FloatingPointError`` when a training loss is NaN or inf.

    After every training iteration the loss terms of the model's log
    variables (every key containing ``'loss'``, the terms mmengine sums
    into the optimised loss: ``loss``, ``loss_cls``, ``loss_cse``, ...) are
    checked. If one is not finite, training stops with an error naming the
    iteration, the epoch, the batch and each non-finite term, and the last
    checkpoint on disk. The hook runs before ``CheckpointHook`` (priority
    ``ABOVE_NORMAL`` < ``VERY_LOW``), so the weights updated by the
    non-finite loss are never saved: the last good checkpoint is kept.

    In distributed training a flag is all-reduced every iteration, so every
    rank stops together (a rank whose own losses are finite reports that
    another rank saw a non-finite loss) instead of waiting forever for a
    rank that stopped.

    The default runtime registers it in ``default_hooks`` as
    ``finite_loss``; mmengine 0.10.7 does not accept ``finite_loss=None``
    for a key it does not define itself, so a config that must not stop on
    non-finite losses replaces ``default_hooks`` with ``_delete_=True``.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Raise if a loss term of this iteration (on any rank) is not
        finite."""
        if not outputs:
            return
        bad = self._non_finite_terms(outputs)
        if self._any_rank_failed(bool(bad), outputs):
            raise FloatingPointError(self._message(runner, batch_idx, bad))

    @staticmethod
    def _non_finite_terms(outputs: Dict) -> Dict[str, float]:
        bad = {}
        for name, value in outputs.items():
            if 'loss' not in name:
                continue
            value = float(value.detach().float().mean()) if isinstance(
                value, torch.Tensor) else float(value)
            if not math.isfinite(value):
                bad[name] = value
        return bad

    @staticmethod
    def _any_rank_failed(local_failed: bool, outputs: Dict) -> bool:
        _, world_size = get_dist_info()
        if world_size == 1:
            return local_failed
        device = next((v.device for v in outputs.values()
                       if isinstance(v, torch.Tensor)), torch.device('cpu'))
        flag = torch.tensor(float(local_failed), device=device)
        all_reduce(flag)
        return bool(flag.item() > 0)

    @staticmethod
    def _message(runner, batch_idx: int, bad: Dict[str, float]) -> str:
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += (f' (epoch {runner.epoch + 1}, batch {batch_idx + 1}/'
                      f'{len(runner.train_dataloader)})')
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            what = f'Non-finite training loss at {where}: {terms}.'
        else:
            rank, _ = get_dist_info()
            what = (f'Non-finite training loss on another rank at {where} '
                    f'(the losses of rank {rank} are finite).')
        last = _last_checkpoint(runner.work_dir)
        kept = (f'The last checkpoint, {last}, is kept' if last else
                'No checkpoint was saved before it')
        return (f'{what} Training stopped before the weights updated with '
                f'this loss were saved. {kept}. Lower the learning rate, '
                'check the data of this batch, or resume from the '
                'checkpoint.')


def _last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in ``CheckpointHook``'s ``last_checkpoint`` file.
    """
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip() or None
