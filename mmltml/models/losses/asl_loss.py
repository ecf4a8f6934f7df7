# Copyright (c) mmltml contributors. All rights reserved.
r"""Asymmetric loss (ASL, Ridnik et al., ICCV 2021) as CPRFL trains with it.

With :math:`p = \sigma(z)`, the shifted probability
:math:`p_m = \max(p - m, 0)` (probability shifting, clip :math:`m`) and the
asymmetric focusing of ASL (CPRFL arXiv 2408.08125, Eq. 7):

.. math::

    \ell = -y\,(1-p)^{\gamma_+}\log(\max(p, \epsilon))
           -(1-y)\,p_m^{\gamma_-}\log(\max(1 - p_m, \epsilon))

CPRFL (and LMPT's ``asl`` option) use the official
``AsymmetricLossOptimized(gamma_neg=4, gamma_pos=0, clip=0.05, eps=1e-8,
disable_torch_grad_focal_loss=True)`` and return ``-loss.mean()``: the
focusing weight :math:`(1-p)^{\gamma_+}` / :math:`p_m^{\gamma_-}` is a
constant for autograd and the loss is the mean over the B x C elements.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .utils import (autocast_off, check_reduction, compute_dtype,
                    reduce_elementwise)


def asymmetric_focal_weight(prob: torch.Tensor, target: torch.Tensor,
                            gamma_pos: float, gamma_neg: float,
                            clip: Optional[float]) -> torch.Tensor:
    r""":math:`(1-p)^{\gamma_+}` on positives, :math:`p_m^{\gamma_-}` on
    negatives (soft targets interpolate the base and the exponent)."""
    prob_neg = _shifted_negative_prob(prob, clip)
    base = 1 - prob * target - prob_neg * (1 - target)
    return torch.pow(base, gamma_pos * target + gamma_neg * (1 - target))


def _shifted_negative_prob(prob: torch.Tensor,
                           clip: Optional[float]) -> torch.Tensor:
    """:math:`1 - p_m = \\min(1 - p + m, 1)`."""
    if clip is not None and clip > 0:
        return (1 - prob + clip).clamp(max=1)
    return 1 - prob


def cprfl_asymmetric_loss(pred: torch.Tensor,
                          target: torch.Tensor,
                          weight: Optional[torch.Tensor] = None,
                          gamma_pos: float = 0.0,
                          gamma_neg: float = 4.0,
                          clip: Optional[float] = 0.05,
                          eps: float = 1e-8,
                          detach_focal_weight: bool = True,
                          reduction: str = 'mean',
                          avg_factor: Optional[float] = None
                          ) -> torch.Tensor:
    """Functional ASL on tensors already in the compute dtype.

    ``weight``, ``reduction`` and ``avg_factor`` follow
    :func:`mmltml.models.losses.utils.reduce_elementwise`.
    """
    prob = torch.sigmoid(pred)
    loss = -(target * torch.log(prob.clamp(min=eps)) +
             (1 - target) *
             torch.log(_shifted_negative_prob(prob, clip).clamp(min=eps)))
    if gamma_pos > 0 or gamma_neg > 0:
        focal_prob = prob.detach() if detach_focal_weight else prob
        loss = loss * asymmetric_focal_weight(focal_prob, target, gamma_pos,
                                              gamma_neg, clip)
    return reduce_elementwise(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class CPRFLAsymmetricLoss(nn.Module):
    r"""ASL exactly as CPRFL trains with it: the official
    ``AsymmetricLossOptimized`` with a mean reduction.

    Differences from mmpretrain's ``AsymmetricLoss`` (same equation):

    - the focusing weight is detached by default (the official
      ``disable_torch_grad_focal_loss=True``); switch with
      ``detach_focal_weight``. mmpretrain back-propagates through it;
    - the default reduction is the mean over the B x C elements and the
      ``avg_factor=B`` of mmpretrain heads is ignored unless
      ``use_avg_factor=True``; mmpretrain's returns sum / B under its heads
      (C times larger). The official ASL returns the sum over the batch
      (``reduction='sum'``);
    - ``gamma_pos`` defaults to 0 in the functional form too, and only the
      sigmoid form exists;
    - ``weight`` may be per sample (B,) or per element (B, C);
    - computed in float32 (float64 inputs stay float64) with autocast
      disabled; the result is float32 for half-precision inputs. The
      official code evaluates in the dtype of its targets.

    Config::

        loss=dict(type='CPRFLAsymmetricLoss')  # gamma_neg=4, clip=0.05

    Args:
        gamma_pos (float): Focusing parameter of positives. Defaults to 0.
        gamma_neg (float): Focusing parameter of negatives. Defaults to 4.
        clip (float, optional): Probability margin m; None or 0 disables
            probability shifting. Defaults to 0.05.
        eps (float): Lower clamp inside the logarithms. Defaults to 1e-8.
        detach_focal_weight (bool): Treat the focusing weight as a constant
            for autograd. Defaults to True.
        reduction (str): 'mean' (over B x C, default), 'sum' or 'none'.
        use_avg_factor (bool): Honour ``avg_factor`` as mmpretrain does
            (``sum / avg_factor`` for 'mean'; an error with 'sum', as in
            mmpretrain). Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 gamma_pos: float = 0.0,
                 gamma_neg: float = 4.0,
                 clip: Optional[float] = 0.05,
                 eps: float = 1e-8,
                 detach_focal_weight: bool = True,
                 reduction: str = 'mean',
                 use_avg_factor: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if gamma_pos < 0 or gamma_neg < 0:
            raise ValueError('gamma_pos and gamma_neg must be non-negative')
        self.gamma_pos = gamma_pos
        self.gamma_neg = gamma_neg
        self.clip = clip
        self.eps = eps
        self.detach_focal_weight = detach_focal_weight
        self.reduction = check_reduction(reduction)
        self.use_avg_factor = use_avg_factor
        self.loss_weight = loss_weight

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits, shape (B, C), any float dtype.
            target (Tensor): Multi-hot labels, shape (B, C), float or int.
            weight (Tensor, optional): Per-sample (B,) or per-element (B, C)
                weight multiplied into the element losses.
            avg_factor (float, optional): Ignored unless ``use_avg_factor``;
                then 'mean' gives ``sum / avg_factor``.
            reduction_override (str, optional): 'none', 'mean' or 'sum' for
                this call.

        Returns:
            Tensor: float32 (float64 for float64 logits) loss times
            ``loss_weight``.
        """
        reduction = check_reduction(reduction_override or self.reduction)
        if pred.shape != target.shape:
            raise ValueError(f'pred and target must have the same shape, got '
                             f'{tuple(pred.shape)} and {tuple(target.shape)}')
        dtype = compute_dtype(pred)
        with autocast_off(pred.device):
            loss = cprfl_asymmetric_loss(
                pred.to(dtype), target.to(dtype), weight,
                gamma_pos=self.gamma_pos, gamma_neg=self.gamma_neg,
                clip=self.clip, eps=self.eps,
                detach_focal_weight=self.detach_focal_weight,
                reduction=reduction,
                avg_factor=avg_factor if self.use_avg_factor else None)
        return self.loss_weight * loss
