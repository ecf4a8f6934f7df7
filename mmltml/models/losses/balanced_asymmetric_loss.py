# Copyright (c) mmltml contributors. All rights reserved.
r"""Balanced asymmetric loss (BAL) of LM-CLIP (Timmermann et al., IEEE
Access 13:71053-71065, 2025; preprint "TailCLIP"; code ``damilab/lm-clip``).

An asymmetric loss (ASL, Ridnik et al., ICCV 2021) on batch-normalised
logits with class-weighted positives and label smoothing of the targets.
Only the abstract of the paper could be read, so no equation numbers are
cited; the formula is the official ``BalancedAsymmetricLossOptimized``
(``asl_loss.py:189-288``). For logits :math:`z \in R^{B\times C}` and
labels :math:`y \in \{0,1\}^{B\times C}`:

1. batch-max normalisation :math:`\tilde x = z / \max_{k,c} z_{kc}`; the
   maximum is **not detached**, so the element holding it receives the
   extra gradient :math:`-\sum_{k,c} g_{kc} z_{kc} / M^2` (with
   :math:`g = \partial L/\partial \tilde x`, :math:`M` the maximum);
2. :math:`p = \sigma(\tilde x)`, :math:`q = \min(1, 1 - p + m)` (probability
   shifting, clip :math:`m`);
3. smoothed targets :math:`\tilde y = (1-\alpha) y + \alpha / C`; the
   anti-target stays :math:`1 - y` (unsmoothed);
4. :math:`\ell = \tilde y (1 + w_c) \log\max(p, \epsilon) + (1-y)
   \log\max(q, \epsilon)`: the class weight multiplies the whole positive
   term, including the :math:`\alpha/C` that negatives receive;
5. focusing weight :math:`W = (1 - p\tilde y - q(1-y))^{\gamma_+ \tilde y +
   \gamma_-(1-y)}`, with gradients through it;
6. :math:`L = -\mathrm{mean}_{B\times C}(\ell W)`.

Class weights (``coco_mlt.py:162-198``): :math:`w_c = (N/n_c)^{s} /
\max_k (N/n_k)^{s} = (\min_k n_k / n_c)^{s} \in (0, 1]` from the training
set's class frequencies :math:`n_c`, so the rarest class has :math:`1 + w_c
= 2`.

With CLIP logits (:math:`z = s\cdot\cos`, cosines about 0.1-0.35) the
normalised logits lie in (0, 1], :math:`p \in (0.5, 0.73]` and at
:math:`\gamma_- \approx 10` the negatives are nearly switched off: BAL is
close to a class-weighted positive-only log-loss (the abstract's
"emphasising the gradients of rare positive samples").
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from mmltml.structures.class_dependent import ClassDependent, ClassField
from .utils import (autocast_off, check_reduction, class_stats_fields,
                    compute_dtype, reduce_elementwise,
                    require_positive_counts, resolve_class_stats)

NORMALIZE = (None, 'batch_max')


def bal_class_weight(class_freq: torch.Tensor, power: float) -> torch.Tensor:
    r""":math:`w_c = (N/n_c)^s / \max_k (N/n_k)^s = (\min_k n_k / n_c)^s`.

    Args:
        class_freq (Tensor): :math:`n_c` (all positive), shape (C,).
        power (float): :math:`s`.

    Returns:
        Tensor: float64 weights in (0, 1], shape (C,).
    """
    freq = class_freq.to(torch.float64)
    return (freq.min() / freq)**power


def batch_max_normalize(logits: torch.Tensor) -> torch.Tensor:
    """``logits / logits.max()`` with the maximum not detached.

    Raises:
        ValueError: If the batch maximum is not positive (the official code
            divides by zero or flips every logit's sign).
    """
    top = logits.max()
    if not bool(top > 0):
        raise ValueError(
            f"BalancedAsymmetricLoss(normalize='batch_max') needs a positive "
            f'batch maximum of the logits, got {float(top)}: the official '
            'division would flip the ranking (or divide by zero). Use '
            'normalize=None for logits that are not positive CLIP scores.')
    return logits / top


def balanced_asymmetric_loss(logits: torch.Tensor,
                             target: torch.Tensor,
                             weight: Optional[torch.Tensor] = None,
                             *,
                             class_weight: Optional[torch.Tensor] = None,
                             gamma_pos: float = 0.0,
                             gamma_neg: float = 9.8,
                             clip: Optional[float] = 0.05,
                             eps: float = 1e-8,
                             label_smoothing: float = 0.0,
                             normalize: Optional[str] = 'batch_max',
                             detach_focal_weight: bool = False,
                             clamp_focal_base: bool = True,
                             reduction: str = 'mean',
                             avg_factor: Optional[float] = None
                             ) -> torch.Tensor:
    """Functional BAL on tensors already in the compute dtype.

    ``class_weight`` is :math:`w_c` (C,) or None (no class weighting);
    ``weight``, ``reduction`` and ``avg_factor`` follow
    :func:`mmltml.models.losses.utils.reduce_elementwise`. See
    :class:`BalancedAsymmetricLoss` for the other arguments.
    """
    if normalize == 'batch_max':
        logits = batch_max_normalize(logits)
    prob = torch.sigmoid(logits)
    prob_neg = 1 - prob
    if clip is not None and clip > 0:
        prob_neg = (prob_neg + clip).clamp(max=1)
    num_classes = logits.size(-1)
    smooth = target * (1 - label_smoothing) + label_smoothing / num_classes
    anti = 1 - target
    pos_term = smooth * torch.log(prob.clamp(min=eps))
    if class_weight is not None:
        pos_term = pos_term * (1 + class_weight)
    loss = pos_term + anti * torch.log(prob_neg.clamp(min=eps))
    if gamma_pos > 0 or gamma_neg > 0:
        focal_pos, focal_neg = prob, prob_neg
        if detach_focal_weight:
            focal_pos, focal_neg = prob.detach(), prob_neg.detach()
        base = 1 - focal_pos * smooth - focal_neg * anti
        if clamp_focal_base:
            base = base.clamp(min=0)
        loss = loss * torch.pow(base, gamma_pos * smooth + gamma_neg * anti)
    return reduce_elementwise(-loss, weight, reduction, avg_factor)


@MODELS.register_module()
class BalancedAsymmetricLoss(nn.Module, ClassDependent):
    r"""LM-CLIP's balanced asymmetric loss (BAL), as the official code.

    See the module docstring for the formula. The settings of the four
    official configs are fragments ``configs/_base_/losses/
    bal_{coco,voc}-lt_{rn50,vitb16}.py`` (variables
    ``bal_<dataset>_<backbone>_loss``, ``loss_weight`` = the official
    ``asl_mul`` :math:`\lambda` of :math:`L = L_{CLIP} + \lambda L_{BAL}`);
    add ``class_stats`` of the training set::

        loss=dict(_base_.bal_coco_lt_vitb16_loss, class_stats=class_stats)

    Reduction under mmpretrain heads: ``MultiLabelClsHead`` calls
    ``loss(cls_score, target, avg_factor=B)``. By default ``avg_factor`` is
    ignored and the loss is the mean over the B x C elements (official);
    ``use_avg_factor=True`` gives mmpretrain's sum / B.

    Deliberate differences from the official code: the focusing base
    :math:`1 - p\tilde y - q(1-y)` is clamped at 0 (``clamp_focal_base``;
    it is negative only for a negative with :math:`p < m`, where the
    official power is NaN for a non-integer :math:`\gamma_-`); a batch
    maximum that is not positive raises ``ValueError`` (the official
    division flips the ranking or divides by zero); the class weights come
    from the project's class statistics of the training set (the official
    validation loss uses test-split counts); computed in float32 (float64
    inputs stay float64) with autocast disabled.

    Args:
        gamma_pos (float): :math:`\gamma_+`. Defaults to 0.
        gamma_neg (float): :math:`\gamma_-`. Defaults to 9.8.
        clip (float, optional): Probability margin :math:`m`; None or 0
            disables shifting. Defaults to 0.05.
        eps (float): Lower clamp inside the logarithms. Defaults to 1e-8.
        label_smoothing (float): :math:`\alpha` of the targets. Defaults
            to 0.
        class_weight_power (float, optional): :math:`s` of the class
            weights :math:`w_c`; None (default) disables them (the official
            ``use_weighted_loss=False``). Needs class statistics.
        class_freq (Sequence[int] | Tensor, optional): :math:`n_c`.
        class_stats (str | dict, optional): Instead of ``class_freq``: a
            source for :func:`mmltml.datasets.load_class_stats`.
        normalize (str, optional): 'batch_max' (default, official) or None
            (plain ASL on the logits).
        detach_focal_weight (bool): Treat :math:`W` as a constant for
            autograd. Defaults to False (official).
        clamp_focal_base (bool): Clamp the focusing base at 0. Defaults to
            True.
        reduction (str): 'mean' (over B x C, default), 'sum' or 'none'.
        use_avg_factor (bool): Honour ``avg_factor`` as mmpretrain does.
            Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 gamma_pos: float = 0.0,
                 gamma_neg: float = 9.8,
                 clip: Optional[float] = 0.05,
                 eps: float = 1e-8,
                 label_smoothing: float = 0.0,
                 class_weight_power: Optional[float] = None,
                 class_freq: Optional[Union[Sequence[int],
                                            torch.Tensor]] = None,
                 class_stats: Optional[Union[str, dict]] = None,
                 normalize: Optional[str] = 'batch_max',
                 detach_focal_weight: bool = False,
                 clamp_focal_base: bool = True,
                 reduction: str = 'mean',
                 use_avg_factor: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if gamma_pos < 0 or gamma_neg < 0:
            raise ValueError('gamma_pos and gamma_neg must be non-negative')
        if not 0 <= label_smoothing < 1:
            raise ValueError(f'label_smoothing must be in [0, 1), got '
                             f'{label_smoothing}')
        if normalize not in NORMALIZE:
            raise ValueError(f'normalize must be one of {NORMALIZE}, got '
                             f'{normalize!r}')
        self.gamma_pos = gamma_pos
        self.gamma_neg = gamma_neg
        self.clip = clip
        self.eps = eps
        self.label_smoothing = label_smoothing
        self.class_weight_power = class_weight_power
        self.normalize = normalize
        self.detach_focal_weight = detach_focal_weight
        self.clamp_focal_base = clamp_focal_base
        self.reduction = check_reduction(reduction)
        self.use_avg_factor = use_avg_factor
        self.loss_weight = loss_weight
        # integer counts (a dtype cast of the module cannot round them); the
        # weights are computed from them in float64 at each call
        self.register_buffer(
            'class_freq', self._checked_freq(class_freq, class_stats),
            persistent=False)

    def _checked_freq(self, class_freq, class_stats
                      ) -> Optional[torch.Tensor]:
        freq, _ = resolve_class_stats(class_freq, None, class_stats)
        if self.class_weight_power is None:
            if freq is not None:
                raise ValueError('BalancedAsymmetricLoss got class statistics '
                                 'but no class_weight_power: set it (the '
                                 'official s) or drop the statistics')
            return None
        if freq is None:
            raise ValueError('BalancedAsymmetricLoss with class_weight_power '
                             'needs class statistics: pass class_freq or '
                             'class_stats')
        require_positive_counts(freq, 'BalancedAsymmetricLoss class weights')
        return freq

    def class_fields(self) -> List[ClassField]:
        """``class_freq``, when the loss weights classes."""
        return class_stats_fields(self.class_freq, None)

    @property
    def class_weight(self) -> Optional[torch.Tensor]:
        """:math:`w_c` (float64, shape (C,)), or None without class
        weighting."""
        if self.class_freq is None:
            return None
        return bal_class_weight(self.class_freq, self.class_weight_power)

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): Logits, shape (B, C), any float dtype.
            label (Tensor): Multi-hot labels, shape (B, C).
            weight (Tensor, optional): Per-sample (B,) or per-element (B, C)
                weight multiplied into the element losses.
            avg_factor (float, optional): Ignored unless ``use_avg_factor``.
            reduction_override (str, optional): 'none', 'mean' or 'sum'.

        Returns:
            Tensor: float32 (float64 for float64 logits) loss times
            ``loss_weight``; shape (B, C) for ``reduction='none'``.
        """
        reduction = check_reduction(reduction_override or self.reduction)
        if cls_score.shape != label.shape or cls_score.dim() != 2:
            raise ValueError(f'cls_score and label must both be (B, C), got '
                             f'{tuple(cls_score.shape)} and '
                             f'{tuple(label.shape)}')
        if (self.class_freq is not None
                and self.class_freq.numel() != cls_score.size(1)):
            raise ValueError(f'class statistics have '
                             f'{self.class_freq.numel()} classes, cls_score '
                             f'{cls_score.size(1)}')
        dtype = compute_dtype(cls_score)
        with autocast_off(cls_score.device):
            class_weight = self.class_weight
            if class_weight is not None:
                class_weight = class_weight.to(cls_score.device, dtype)
            loss = balanced_asymmetric_loss(
                cls_score.to(dtype), label.to(dtype), weight,
                class_weight=class_weight, gamma_pos=self.gamma_pos,
                gamma_neg=self.gamma_neg, clip=self.clip, eps=self.eps,
                label_smoothing=self.label_smoothing,
                normalize=self.normalize,
                detach_focal_weight=self.detach_focal_weight,
                clamp_focal_base=self.clamp_focal_base, reduction=reduction,
                avg_factor=avg_factor if self.use_avg_factor else None)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'gamma_pos={self.gamma_pos}, gamma_neg={self.gamma_neg}, '
                f'clip={self.clip}, label_smoothing={self.label_smoothing}, '
                f'class_weight_power={self.class_weight_power}, '
                f'normalize={self.normalize!r}, '
                f'reduction={self.reduction!r}')
