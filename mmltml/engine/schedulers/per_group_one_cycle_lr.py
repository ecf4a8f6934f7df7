# Copyright (c) mmltml contributors. All rights reserved.
"""One-cycle learning rates whose peak differs per parameter group."""
from typing import Optional, Union

from mmengine.optim import BaseOptimWrapper
from mmengine.optim.scheduler import OneCycleLR
from mmpretrain.registry import PARAM_SCHEDULERS
from torch.optim import Optimizer


@PARAM_SCHEDULERS.register_module()
class PerGroupOneCycleLR(OneCycleLR):
    """mmengine's ``OneCycleLR`` with one peak learning rate per parameter
    group, in proportion to the groups' own learning rates.

    mmengine's ``OneCycleLR`` gives every group the same ``eta_max``, which
    undoes the ``lr_mult`` of ``paramwise_cfg``. torch's ``OneCycleLR``
    takes one ``max_lr`` per group, as LT-GCN uses it (``max_lr=[lr, lr,
    gcn_lr, gcn_lr]``); mmengine builds one group per parameter, so a list
    cannot be written in a config. Here the peak of a group is

        eta_max * group_lr / base_lr

    with ``group_lr`` the group's learning rate when the scheduler is built
    (the optimizer's ``lr`` times its ``lr_mult``) and ``base_lr`` the
    optimizer's ``lr``; ``eta_max=None`` peaks each group at its own
    learning rate. E.g. LT-GCN's recipe is ``lr=1e-4`` with
    ``custom_keys={'head.adapter': dict(lr_mult=10)}`` (GCN lr 1e-3) and
    ``eta_max=None``. Build it before any other learning-rate scheduler
    (they may change the groups' learning rates when built).

    Args:
        optimizer (Optimizer | BaseOptimWrapper): The wrapped optimizer.
        eta_max (float, optional): Peak of a group with the base learning
            rate. Defaults to None (each group's own learning rate).
        **kwargs: ``OneCycleLR`` arguments (``total_steps``,
            ``pct_start``, ``div_factor``, ``final_div_factor``, ...).
    """

    def __init__(self,
                 optimizer: Union[Optimizer, BaseOptimWrapper],
                 eta_max: Optional[float] = None,
                 **kwargs) -> None:
        torch_optimizer = (optimizer.optimizer if isinstance(
            optimizer, BaseOptimWrapper) else optimizer)
        base_lr = torch_optimizer.defaults['lr']
        ratio = 1.0 if eta_max is None else eta_max / base_lr
        # the wrapper's groups (mmengine adds the base settings, which it
        # logs, as a last group)
        peaks = [group['lr'] * ratio for group in optimizer.param_groups]
        super().__init__(optimizer, eta_max=peaks, **kwargs)
