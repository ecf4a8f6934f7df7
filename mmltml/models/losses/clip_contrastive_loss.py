# Copyright (c) mmltml contributors. All rights reserved.
r"""CLIP's contrastive loss (Radford et al., ICML 2021, Fig. 3) on a batch
of image / text pairs, as open_clip's ``ClipLoss`` on one device."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from .utils import autocast_off, compute_dtype


def clip_contrastive_loss(image_feats: torch.Tensor, text_feats: torch.Tensor,
                          logit_scale: torch.Tensor) -> torch.Tensor:
    r"""Symmetric cross-entropy over the :math:`B` pairs.

    :math:`L_{ij} = s \langle \hat v_i, \hat u_j\rangle` for L2-normalised
    image features :math:`\hat v` and text features :math:`\hat u`, and

    .. math::

        L_{CLIP} = \tfrac12\big[\mathrm{CE}(L, I) + \mathrm{CE}(L^\top,
        I)\big],

    each cross-entropy averaged over the :math:`B` rows, the matching pair
    (the diagonal) being the target.

    Args:
        image_feats (Tensor): Image features ``[B, E]`` (normalised here).
        text_feats (Tensor): Text features ``[B, E]`` of the same pairs.
        logit_scale (Tensor): The temperature :math:`s` (not its log).
    """
    image = F.normalize(image_feats, dim=-1)
    text = F.normalize(text_feats, dim=-1)
    logits = logit_scale * image @ text.t()
    target = torch.arange(logits.size(0), device=logits.device)
    return (F.cross_entropy(logits, target) +
            F.cross_entropy(logits.t(), target)) / 2


@MODELS.register_module()
class CLIPContrastiveLoss(nn.Module):
    r"""CLIP's contrastive (InfoNCE) loss on image / text pairs.

    The semantics of open_clip's ``ClipLoss`` on one device (see
    :func:`clip_contrastive_loss`): logits :math:`s \cos(v_i, u_j)` over
    the :math:`B \times B` pairs of the batch, the symmetric cross-entropy
    with the matching pairs as targets. LM-CLIP (official
    ``model_openai_clip.py:178-253``, a copy of ``ClipLoss`` with world
    size 1) uses it between each image and its label caption; two images
    with the same labels have the same caption and count as each other's
    negatives, as in the official code.

    Features are L2-normalised here (open_clip's model does it before its
    ``ClipLoss``, which takes them normalised), and the loss is computed in
    float32 (float64 inputs stay float64) with autocast disabled. Under
    distributed training each device uses its own batch (no gathering
    across devices: the official code ran on one GPU).

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, image_feats: torch.Tensor, text_feats: torch.Tensor,
                logit_scale: torch.Tensor) -> torch.Tensor:
        """The loss of ``B`` pairs.

        Args:
            image_feats (Tensor): Image features ``[B, E]``.
            text_feats (Tensor): Text features ``[B, E]``; row ``i`` pairs
                with image ``i``.
            logit_scale (Tensor): The temperature :math:`s` (positive, not
                its log), a scalar.
        """
        if image_feats.dim() != 2 or image_feats.shape != text_feats.shape:
            raise ValueError('image_feats and text_feats must both be '
                             f'[B, E], got {tuple(image_feats.shape)} and '
                             f'{tuple(text_feats.shape)}')
        dtype = compute_dtype(image_feats)
        with autocast_off(image_feats.device):
            loss = clip_contrastive_loss(image_feats.to(dtype),
                                         text_feats.to(dtype),
                                         torch.as_tensor(logit_scale).to(
                                             image_feats.device, dtype))
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
