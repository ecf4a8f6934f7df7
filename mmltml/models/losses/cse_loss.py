# Copyright (c) mmltml contributors. All rights reserved.
r"""Class-specific embedding (CSE) loss of LMPT (arXiv 2305.04536, Sec. 3.4).

For image k with caption embedding :math:`t_k` and class prompt embedding
:math:`o_i` (Eqs. 3-7 of the paper, as the paper describes them; the released
code's version crashes or gives NaN):

.. math::

    \Delta_{ki} = 1 - \cos(t_k, o_i) \\
    \tilde\mu_i = \eta\, n_i^{-1/4}
        \quad\text{(class-aware soft margin, Eq. 4)} \\
    w_i = n_i^{-\gamma} / \textstyle\sum_j n_j^{-\gamma}
        \quad\text{(re-weighting)} \\
    L_{cse} = \frac{1}{B}\sum_k \sum_i \big[ y_{ki} w_i \Delta_{ki}
              + (1 - y_{ki}) \max(0, w_i(\tilde\mu_i - \Delta_{ki})) \big]
              \quad\text{(Eq. 7)}

with :math:`n_i` the raw training count of class i (no softmax, unlike the
released code). The plain embedding loss (Eq. 3) is the same sum with a
constant margin :math:`\mu` and :math:`w_i = 1`. In the paper
:math:`o_i = o_i|_m^M` are the instance prompt tokens (context positions m
onwards); which embedding the caller passes is its choice (see
``CLIPPromptHead``: whole-prompt encoder features, or the shifted token
sequence).

Token-level inputs (the space of the released LMPT code):
:math:`T_k, O_i \in R^{L\times D}` already aligned by the caller (e.g. the
prompt shifted by ``m_ctx``), :math:`\Delta_{ki}` is the mean (or sum) over
the used positions p of :math:`1 - \cos(T_{kp}, O_{ip})`, computed in closed
form :math:`\sum_p m_{kp} - \sum_p m_{kp} \hat T_{kp}\cdot\hat O_{ip}` with
one einsum (no [B, C, L, D] tensor).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmltml.structures.class_dependent import ClassDependent, ClassField
from .utils import (autocast_off, check_reduction, class_stats_fields,
                    compute_dtype, require_positive_counts,
                    resolve_class_stats)

POSITION_REDUCTIONS = ('mean', 'sum')
_NORM_EPS = 1e-8


def cse_distance(prompt_embeds: torch.Tensor,
                 caption_embeds: torch.Tensor,
                 caption_mask: Optional[torch.Tensor] = None,
                 position_reduction: str = 'mean') -> torch.Tensor:
    r""":math:`\Delta` [B, C] of captions [B, (L,) D] and prompts [C, (L,) D].

    The cosine of a zero vector with anything is 0 (vectors are divided by
    ``max(norm, 1e-8)``). ``caption_mask`` [B, L] (bool, True = use the
    position) only applies to token-level inputs.
    """
    prompt = F.normalize(prompt_embeds, dim=-1, eps=_NORM_EPS)
    caption = F.normalize(caption_embeds, dim=-1, eps=_NORM_EPS)
    if caption.dim() == 2:
        return 1 - caption @ prompt.t()
    if position_reduction not in POSITION_REDUCTIONS:
        raise ValueError(f'position_reduction must be one of '
                         f'{POSITION_REDUCTIONS}, got {position_reduction!r}')
    if caption_mask is None:
        count = torch.full((caption.size(0), 1), float(caption.size(1)),
                           dtype=caption.dtype, device=caption.device)
    else:
        mask = caption_mask.to(caption.dtype)
        caption = caption * mask.unsqueeze(-1)
        count = mask.sum(dim=1, keepdim=True)
    cos_sum = torch.einsum('bld,cld->bc', caption, prompt)
    if position_reduction == 'sum':
        return count - cos_sum
    return 1 - cos_sum / count


def cse_loss(distance: torch.Tensor,
             labels: torch.Tensor,
             margin: Union[float, torch.Tensor],
             class_weight: Optional[torch.Tensor] = None,
             reduction: str = 'mean') -> Tuple[torch.Tensor, torch.Tensor]:
    r"""CSE loss from :math:`\Delta` [B, C], labels [B, C] and margins.

    ``margin`` is a (C,) tensor or a float; ``class_weight`` (C,) or None.

    Returns:
        tuple: the loss (per image [B] for ``reduction='none'``) and the
        detached fraction of negative pairs whose hinge is active
        (:math:`\mu_i > \Delta_{ki}`, weighted by :math:`1 - y_{ki}`; 0 when
        the batch has no negatives).
    """
    hinge_arg = margin - distance
    pos_term = labels * distance
    neg_term = (1 - labels) * hinge_arg.clamp(min=0)
    per_pair = pos_term + neg_term
    if class_weight is not None:
        per_pair = per_pair * class_weight
    per_image = per_pair.sum(dim=1)
    with torch.no_grad():
        neg = 1 - labels
        active = (neg * (hinge_arg > 0)).sum()
        active_fraction = active / neg.sum().clamp(min=1e-12)
    if reduction == 'mean':
        return per_image.mean(), active_fraction
    if reduction == 'sum':
        return per_image.sum(), active_fraction
    return per_image, active_fraction


@MODELS.register_module()
class CSELoss(nn.Module, ClassDependent):
    r"""Class-specific embedding loss (LMPT Sec. 3.4, Eqs. 3-7).

    ``max(0, w (mu - Delta)) = w max(0, mu - Delta)`` since ``w > 0``. The
    rows of the paper's Table 3 ablation are configurations::

        # + embedding loss (Eq. 3): constant margin, no class weights
        dict(type='CSELoss', soft_margin=False, reweight=False, margin=0.2)
        # + class-aware soft margin (Eq. 4)
        dict(type='CSELoss', reweight=False, eta=1.0, class_stats=STATS)
        # + re-weighting (full CSE, the default)
        dict(type='CSELoss', eta=1.0, gamma=1.0, class_stats=STATS)

    Class counts n_i are needed by the soft margin and the re-weighting; a
    class with n_i = 0 raises ``ValueError`` at construction (its margin and
    weight would be infinite). Scale: ``w_i`` does not depend on the scale
    of n, ``mu_i`` does (counts, not frequencies).

    Args:
        class_freq (Sequence[int] | Tensor, optional): n_i per class.
        class_stats (str | dict, optional): Instead of ``class_freq``, any
            source of :func:`mmltml.datasets.class_stats.load_class_stats`.
        soft_margin (bool): Class-aware margin ``eta * n_i^(-1/4)``; False
            uses the constant ``margin``. Defaults to True.
        eta (float): Soft-margin scale. Defaults to 1.0 (paper).
        margin (float): Constant margin when ``soft_margin=False``.
            Defaults to 0.2 (the released code's base margin).
        reweight (bool): Class weights ``w_i``; False uses ``w_i = 1``.
            Defaults to True.
        gamma (float): Re-weighting exponent. Defaults to 1.0 (paper).
        position_reduction (str): Token-level inputs only: 'mean' (default)
            or 'sum' (released code) of the per-position distances.
        reduction (str): Over images: 'mean' (default), 'sum' or 'none'
            (per-image losses [B]).
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.

    ``forward(..., return_stats=True)`` also returns
    ``dict(active_neg=...)``: the detached fraction of negative
    (image, class) pairs with an active hinge (``mu_i > Delta_ki``), for
    logging.
    """

    def __init__(self,
                 class_freq: Optional[Union[Sequence[int],
                                            torch.Tensor]] = None,
                 class_stats: Optional[Union[str, dict]] = None,
                 soft_margin: bool = True,
                 eta: float = 1.0,
                 margin: float = 0.2,
                 reweight: bool = True,
                 gamma: float = 1.0,
                 position_reduction: str = 'mean',
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if position_reduction not in POSITION_REDUCTIONS:
            raise ValueError(f'position_reduction must be one of '
                             f'{POSITION_REDUCTIONS}, got '
                             f'{position_reduction!r}')
        self.soft_margin = soft_margin
        self.eta = eta
        self.margin = margin
        self.reweight = reweight
        self.gamma = gamma
        self.position_reduction = position_reduction
        self.reduction = check_reduction(reduction)
        self.loss_weight = loss_weight
        freq, self.train_num = resolve_class_stats(class_freq, None,
                                                   class_stats)
        if soft_margin or reweight:
            if freq is None:
                raise ValueError('CSELoss with soft_margin or reweight needs '
                                 'class_freq or class_stats')
            require_positive_counts(freq, 'CSELoss')
        self.register_buffer('class_freq', freq, persistent=False)

    def class_margin(self, dtype: torch.dtype,
                     device: torch.device) -> Union[float, torch.Tensor]:
        """``eta * n_i^(-1/4)`` (C,), or the constant ``margin``."""
        if not self.soft_margin:
            return self.margin
        freq = self.class_freq.to(device=device, dtype=dtype)
        return self.eta * freq.pow(-0.25)

    def class_weight(self, dtype: torch.dtype,
                     device: torch.device) -> Optional[torch.Tensor]:
        """``n_i^(-gamma) / sum_j n_j^(-gamma)`` (C,), or None."""
        if not self.reweight:
            return None
        inv = self.class_freq.to(device=device, dtype=dtype).pow(-self.gamma)
        return inv / inv.sum()

    def class_fields(self) -> List[ClassField]:
        """``class_freq`` (with the images it counts), when given."""
        return class_stats_fields(self.class_freq, self.train_num)

    def forward(self,
                prompt_embeds: torch.Tensor,
                caption_embeds: torch.Tensor,
                labels: torch.Tensor,
                caption_mask: Optional[torch.Tensor] = None,
                return_stats: bool = False
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, dict]]:
        """Compute the loss.

        Args:
            prompt_embeds (Tensor): Class prompt embeddings [C, D], or
                token-level [C, L, D].
            caption_embeds (Tensor): Caption embeddings [B, D], or
                token-level [B, L, D] aligned position by position with the
                prompts.
            labels (Tensor): Multi-hot [B, C], float or int.
            caption_mask (Tensor, optional): [B, L] bool, the positions to use
                (token-level only). Every caption needs one position.

        Returns:
            Tensor: float32 (float64 for float64 inputs) loss times
            ``loss_weight``; per image [B] for ``reduction='none'``.
        """
        self._check_shapes(prompt_embeds, caption_embeds, labels,
                           caption_mask)
        dtype = torch.promote_types(compute_dtype(prompt_embeds),
                                    compute_dtype(caption_embeds))
        device = prompt_embeds.device
        with autocast_off(device):
            distance = cse_distance(
                prompt_embeds.to(dtype), caption_embeds.to(dtype),
                caption_mask, self.position_reduction)
            loss, active = cse_loss(distance, labels.to(dtype),
                                    self.class_margin(dtype, device),
                                    self.class_weight(dtype, device),
                                    self.reduction)
        if return_stats:
            return self.loss_weight * loss, dict(active_neg=active)
        return self.loss_weight * loss

    def _check_shapes(self, prompt: torch.Tensor, caption: torch.Tensor,
                      labels: torch.Tensor,
                      caption_mask: Optional[torch.Tensor]) -> None:
        if prompt.dim() != caption.dim() or prompt.dim() not in (2, 3):
            raise ValueError(
                'expected prompt_embeds [C, D] and caption_embeds [B, D], or '
                f'[C, L, D] and [B, L, D]; got {tuple(prompt.shape)} and '
                f'{tuple(caption.shape)}')
        if prompt.shape[1:] != caption.shape[1:]:
            raise ValueError(f'prompt_embeds {tuple(prompt.shape)} and '
                             f'caption_embeds {tuple(caption.shape)} differ '
                             'after the first dimension')
        expected = (caption.size(0), prompt.size(0))
        if tuple(labels.shape) != expected:
            raise ValueError(f'labels must be {expected}, got '
                             f'{tuple(labels.shape)}')
        if (self.class_freq is not None
                and self.class_freq.numel() != prompt.size(0)):
            raise ValueError(f'class_freq has {self.class_freq.numel()} '
                             f'classes, prompt_embeds {prompt.size(0)}')
        if caption_mask is None:
            return
        if caption.dim() != 3:
            raise ValueError('caption_mask needs token-level inputs '
                             '[B, L, D] and [C, L, D]')
        if caption_mask.shape != caption.shape[:2]:
            raise ValueError(f'caption_mask must be {tuple(caption.shape[:2])}'
                             f', got {tuple(caption_mask.shape)}')
        if caption_mask.dtype != torch.bool:
            raise ValueError('caption_mask must be a bool tensor')
        if not bool(caption_mask.any(dim=1).all()):
            empty = torch.nonzero(~caption_mask.any(dim=1)).flatten()
            raise ValueError(f'captions {empty.tolist()} have no position in '
                             'caption_mask (their distance is undefined)')
