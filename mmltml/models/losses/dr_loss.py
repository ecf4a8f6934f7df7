# Copyright (c) mmltml contributors. All rights reserved.
r"""Distributionally robust loss (DR; Lin et al., ECCV 2024).

"Distributionally Robust Loss for Long-Tailed Multi-Label Image
Classification" (LNCS 15091, DOI 10.1007/978-3-031-73414-4_24; official code
``Kunmonkey/DR-Loss``). DR is a *class-wise* log-sum-exp pairwise (LSEP) loss
plus a negative-gradient constraint. For logits :math:`s \in R^{B\times C}`
and labels :math:`y \in \{0,1\}^{B\times C}`, the positive and negative
images of class :math:`j` **within the batch** are
:math:`P_j = \{i: y_{ij} = 1\}` and :math:`N_j = \{i: y_{ij} = 0\}`, and

.. math::

    L_j = \log\Big(1 + \sum_{p\in P_j}\sum_{n\in N_j}
          e^{\gamma_1 (s_{nj} - s_{pj})} + \sum_{n\in N_j} e^{\gamma_2 s_{nj}}
          \Big), \qquad L = \frac{1}{C}\sum_j L_j .

The first sum ranks every positive image of class :math:`j` above every
negative one (LSEP transposed: images within a class instead of classes
within an image); the second pushes every negative logit below about 0 with
sharpness :math:`\gamma_2`. Positives get no absolute push, so logit 0 is
not a calibrated threshold (report mAP, not thresholded metrics). The paper
could not be read here (only its abstract), so no equation numbers are
cited; the formula is the official code's (``dr_loss.py:64-84``), which
returns the C-vector :math:`(L_j)` that its runner averages.

Computed stably as :math:`L_j = \mathrm{logsumexp}(0, A_j + B_j, G_j)` with
:math:`A_j = \mathrm{LSE}_{p\in P_j}(-\gamma_1 s_{pj})`,
:math:`B_j = \mathrm{LSE}_{n\in N_j}(\gamma_1 s_{nj})` and
:math:`G_j = \mathrm{LSE}_{n\in N_j}(\gamma_2 s_{nj})` (an empty set gives
:math:`-\infty`, so a class without positives in the batch keeps only the
constraint and a class without negatives gives 0), with boolean masks and no
:math:`\pm 10^{12}` fill values; the official ``exp(logsumexp(.))`` overflows
in float32 once :math:`\gamma s > 88` (a negative logit above 8.8 at
:math:`\gamma_2 = 10`).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .utils import autocast_off, check_reduction, compute_dtype


def masked_logsumexp(values: torch.Tensor, mask: torch.Tensor,
                     dim: int) -> torch.Tensor:
    """``logsumexp`` of ``values[mask]`` along ``dim``; ``-inf`` where the
    mask selects nothing, with finite (zero) gradients there."""
    neg_inf = torch.full_like(values, float('-inf'))
    any_selected = mask.any(dim=dim, keepdim=True)
    # rows that select nothing are computed on zeros and replaced after, so
    # that autograd never sees exp(-inf - (-inf))
    safe = torch.where(mask, values,
                       torch.where(any_selected, neg_inf,
                                   torch.zeros_like(values)))
    out = torch.logsumexp(safe, dim=dim)
    return torch.where(any_selected.squeeze(dim), out,
                       torch.full_like(out, float('-inf')))


def dr_loss(cls_score: torch.Tensor, label: torch.Tensor, gamma1: float,
            gamma2: float) -> torch.Tensor:
    r"""The per-class DR losses :math:`(L_1, \ldots, L_C)`, shape (C,).

    Args:
        cls_score (Tensor): Logits (B, C) in the compute dtype.
        label (Tensor): Binary labels (B, C).
        gamma1 (float): Sharpness of the pairwise ranking term.
        gamma2 (float): Sharpness of the negative-gradient constraint.
    """
    pos = label > 0.5
    neg = ~pos
    pos_lse = masked_logsumexp(-gamma1 * cls_score, pos, dim=0)
    neg_lse = masked_logsumexp(gamma1 * cls_score, neg, dim=0)
    constraint = masked_logsumexp(gamma2 * cls_score, neg, dim=0)
    terms = torch.stack(
        [torch.zeros_like(pos_lse), pos_lse + neg_lse, constraint])
    return torch.logsumexp(terms, dim=0)


@MODELS.register_module()
class DRLoss(nn.Module):
    r"""Distributionally robust loss (class-wise LSEP with a negative-gradient
    constraint), as the official ``DRLoss`` with its runner's class mean.

    See the module docstring for the formula. Every class term is computed
    over the images of the current batch, so the loss depends on the batch
    composition: the official recipe pairs it with the class-aware sampler
    (3 images per class draw) and batch 32. The paper's settings are
    ``configs/_base_/losses/dr_{coco,voc}-lt.py`` (:math:`\gamma_1 = 5`;
    :math:`\gamma_2 = 10` COCO-LT, 7 VOC-LT).

    DR + BCE: the paper reports that a BCE-based loss is complementary; the
    official code only has it commented out (with arguments that would not
    run, and no mixing weight). ``bce_loss`` adds any registered element-wise
    loss config (e.g. a ``DBLoss`` fragment), :math:`L = L_{DR} +
    \mathrm{bce\_weight}\cdot L_{BCE}`; the weight is not the paper's
    (unknown), so this combination is unverified.

    Reduction under mmpretrain heads: ``MultiLabelClsHead`` calls
    ``loss(cls_score, target, avg_factor=B)``; ``avg_factor`` is ignored
    (the official loss is a mean over classes with no division by B) and
    passed on to ``bce_loss``.

    Differences from the official code: the stable log-sum-exp form above
    (equal where the official one is finite); boolean masks instead of
    :math:`\pm 10^{12}`; computed in float32 (float64 inputs stay float64)
    with autocast disabled; labels must be binary (the official code treats
    any non-one value as negative).

    Args:
        gamma1 (float): :math:`\gamma_1`, ranking sharpness. Defaults to 5.
        gamma2 (float): :math:`\gamma_2`, constraint sharpness. Defaults
            to 7 (VOC-LT).
        reduction (str): 'mean' over classes (default, the official
            runner's), 'sum' over classes, or 'none' (the C-vector).
        bce_loss (dict, optional): Config of a loss added with weight
            ``bce_weight`` (DR + BCE). Defaults to None (DR alone, the
            official configs).
        bce_weight (float): Weight of ``bce_loss``. Defaults to 1.0.
        loss_weight (float): Multiplier of the total. Defaults to 1.0.
    """

    def __init__(self,
                 gamma1: float = 5.0,
                 gamma2: float = 7.0,
                 reduction: str = 'mean',
                 bce_loss: Optional[dict] = None,
                 bce_weight: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if gamma1 <= 0 or gamma2 <= 0:
            raise ValueError(f'DRLoss needs gamma1 > 0 and gamma2 > 0, got '
                             f'{gamma1} and {gamma2}')
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.reduction = check_reduction(reduction)
        if bce_loss is not None and self.reduction == 'none':
            raise ValueError("DRLoss with bce_loss cannot use reduction='none'"
                             ' (a C-vector plus a (B, C) loss)')
        self.bce_loss = None if bce_loss is None else MODELS.build(bce_loss)
        self.bce_weight = bce_weight
        self.loss_weight = loss_weight

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): Logits, shape (B, C), any float dtype.
            label (Tensor): Binary multi-hot labels, shape (B, C).
            weight (Tensor, optional): Not supported by DR (the class terms
                couple the images); must be None.
            avg_factor (float, optional): Ignored by DR, passed to
                ``bce_loss``.
            reduction_override (str, optional): 'none', 'mean' or 'sum'.

        Returns:
            Tensor: float32 (float64 for float64 logits) loss times
            ``loss_weight``; shape (C,) for ``reduction='none'``.
        """
        reduction = check_reduction(reduction_override or self.reduction)
        if weight is not None:
            raise ValueError('DRLoss takes no weight: each class term couples '
                             'all images of the batch')
        if cls_score.shape != label.shape or cls_score.dim() != 2:
            raise ValueError(f'cls_score and label must both be (B, C), got '
                             f'{tuple(cls_score.shape)} and '
                             f'{tuple(label.shape)}')
        if not bool(((label == 0) | (label == 1)).all()):
            raise ValueError('DRLoss needs binary labels (0 or 1); got other '
                             'values (label smoothing or soft targets?)')
        dtype = compute_dtype(cls_score)
        with autocast_off(cls_score.device):
            per_class = dr_loss(cls_score.to(dtype), label.to(dtype),
                                self.gamma1, self.gamma2)
            if reduction == 'none':
                return self.loss_weight * per_class
            loss = per_class.mean() if reduction == 'mean' else per_class.sum()
            if self.bce_loss is not None:
                loss = loss + self.bce_weight * self.bce_loss(
                    cls_score, label, avg_factor=avg_factor)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'gamma1={self.gamma1}, gamma2={self.gamma2}, '
                f'reduction={self.reduction!r}, bce_weight={self.bce_weight}')
