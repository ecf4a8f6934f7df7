# Copyright (c) mmltml contributors. All rights reserved.
"""Cosine classifier over CLIP class-text features, with the LMPT loss."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample, label_to_onehot

from mmltml.structures.head_inputs import (CaptionFeatures, CaptionTokens,
                                           HeadInputRequest,
                                           RequestsHeadInputs)
from ..losses.utils import autocast_off
from ..utils.clip_features import CLIPPromptFeatures
from .logits import PredLogitsMixin

Captions = Union[CaptionFeatures, CaptionTokens]


@MODELS.register_module()
class CLIPPromptHead(PredLogitsMixin, MultiLabelClsHead, RequestsHeadInputs):
    r"""Multi-label logits ``s * cos(image, class text)`` and the LMPT loss.

    Takes the output of :class:`CLIPPromptBackbone`, a
    :class:`~mmltml.models.utils.clip_features.CLIPPromptFeatures`
    ``(image_feats, text_feats, logit_scale, prompt_embeds)`` read by field
    name, and computes (LMPT Eq. 2,
    without the softmax: multi-label scores are per-class sigmoids)::

        logits[k, i] = logit_scale * cos(f_k, t_i)

    Training loss (LMPT Eq. 11, with the typo fixed as in the released code)::

        L = lambda * L_cls(logits, y) + (1 - lambda) * L_cse

    where ``L_cls`` is ``loss`` (DB-Focal in the configs, from the
    ``configs/_base_/losses/db-focal_*.py`` fragments; ASL, BCE, focal
    selectable) and ``L_cse`` is ``cse_loss`` on the class prompts and the
    captions of the batch. Without ``cse_loss`` (CoOp, zero-shot CLIP)
    ``L = L_cls``. With ``cse_loss`` the head requests the head input
    ``captions`` (:mod:`mmltml.structures.head_inputs`), which the
    classifier's config provides in one of two CSE embedding spaces; the
    type of the value selects the space:

    * :class:`~mmltml.structures.head_inputs.CaptionFeatures`
      (``head_inputs=dict(captions=dict(type='CaptionFeaturesInput'))``;
      the paper's description): CLIP text-encoder features of the caption
      and of each class prompt, ``[B, E]`` / ``[C, E]``. The paper's
      :math:`\Delta` compares the caption with the instance prompt tokens
      :math:`o_i|_m^M` only (context positions m onwards); here the whole
      prompt's feature is compared (its end-of-text token attends to
      every position), so every context token, the general ones included,
      gets the CSE gradient.
    * :class:`~mmltml.structures.head_inputs.CaptionTokens`
      (``type='CaptionTokensInput'``; the released code): token embeddings
      of the caption (``[B, L, W]``) against the prompt sequence shifted by
      ``token_shift`` positions (the released code's alignment), so the
      caption's start is compared with context token ``token_shift - 1``
      onwards (the instance tokens). ``token_caption_mask=True`` uses the
      caption positions SOS to EOT only; the released code (``False``)
      compares every position, the caption's padding included (padding
      against prompt padding adds exactly 0). The reduction over positions
      is the CSE loss's ``position_reduction`` (the code sums).

    The fraction of active negative hinges of the CSE loss is logged as
    ``cse_active_neg``.

    Predictions carry ``pred_score = sigmoid(logits)`` (for thresholds) and
    the fp32 logits themselves as ``pred_logits``, which rankings
    (``GroupMAP``) use (:mod:`mmltml.models.heads.logits` says why).

    Args:
        loss: classification loss config.
        cse_loss: CSE loss config (``type='CSELoss'``) or ``None``.
        lambda_cls: weight ``lambda`` of the classification loss.
        token_shift: prompt shift ``m`` of the token space.
        token_caption_mask: token space only: compare the caption's
            positions SOS to EOT only (default), or every position as the
            released code does (``False``).
        logit_scale: a fixed temperature ``s`` (e.g. 100, OpenAI CLIP's)
            instead of the backbone's ``exp(logit_scale)``; ``None``
            (default) uses the backbone's.
        thr, topk: prediction rule as in ``MultiLabelClsHead``.
    """

    def __init__(self,
                 loss: dict = dict(type='CrossEntropyLoss', use_sigmoid=True),
                 cse_loss: Optional[dict] = None,
                 lambda_cls: float = 0.5,
                 token_shift: int = 2,
                 token_caption_mask: bool = True,
                 logit_scale: Optional[float] = None,
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        self.cse_module = None
        if cse_loss is not None:
            self.cse_module = (cse_loss if isinstance(cse_loss, nn.Module)
                               else MODELS.build(cse_loss))
        self.lambda_cls = lambda_cls
        self.token_shift = token_shift
        self.token_caption_mask = token_caption_mask
        if logit_scale is not None and not logit_scale > 0:
            raise ValueError(f'logit_scale must be positive, got '
                             f'{logit_scale!r}')
        self.logit_scale = logit_scale

    def head_input_requests(self) -> Tuple[HeadInputRequest, ...]:
        """``captions`` (either space) when the head has a CSE loss."""
        if self.cse_module is None:
            return ()
        return (HeadInputRequest('captions',
                                 (CaptionFeatures, CaptionTokens)), )

    def pre_logits(
            self, feats: CLIPPromptFeatures
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image features, class text features, logit scale) of the
        backbone's output (the scale replaced by ``self.logit_scale`` when
        it is set)."""
        image_feats, text_feats = feats.image_feats, feats.text_feats
        logit_scale = feats.logit_scale
        if self.logit_scale is not None:
            logit_scale = torch.tensor(self.logit_scale,
                                       device=image_feats.device)
        return image_feats, text_feats, logit_scale

    def forward(self, feats: CLIPPromptFeatures) -> torch.Tensor:
        """Logits [B, C] = logit_scale * cos(image, text), in fp32 (also
        under autocast: a logit scale near 100 makes half-precision cosines
        visibly coarse)."""
        image_feats, text_feats, logit_scale = self.pre_logits(feats)
        with autocast_off(image_feats.device):
            image_feats = F.normalize(image_feats.float(), dim=-1)
            text_feats = F.normalize(text_feats.float(), dim=-1)
            return logit_scale.float() * image_feats @ text_feats.t()

    def loss(self,
             feats: CLIPPromptFeatures,
             data_samples: List[DataSample],
             captions: Optional[Captions] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Losses of a batch; ``captions`` (the head input the CSE loss
        requests) are :class:`CaptionFeatures` or :class:`CaptionTokens`."""
        cls_score = self(feats)
        target = self._targets(data_samples, cls_score)
        loss_cls = self.loss_module(
            cls_score, target, avg_factor=cls_score.size(0), **kwargs)
        if self.cse_module is None:
            return dict(loss=loss_cls)
        loss_cse, stats = self._cse(feats, captions, target)
        return dict(
            loss_cls=self.lambda_cls * loss_cls,
            loss_cse=(1 - self.lambda_cls) * loss_cse,
            cse_active_neg=stats['active_neg'])

    @staticmethod
    def _targets(data_samples: List[DataSample],
                 cls_score: torch.Tensor) -> torch.Tensor:
        """Multi-hot targets [B, C] (as ``MultiLabelClsHead._get_loss``)."""
        if 'gt_score' in data_samples[0]:
            return torch.stack([s.gt_score for s in data_samples
                                ]).float().to(cls_score.device)
        return torch.stack([
            label_to_onehot(s.gt_label, cls_score.size(1))
            for s in data_samples
        ]).float().to(cls_score.device)

    def _cse(self, feats: CLIPPromptFeatures, captions: Captions,
             target: torch.Tensor) -> Tuple[torch.Tensor, dict]:
        """CSE loss and its statistics (``CSELoss(return_stats=True)``), in
        the space of the captions' type."""
        if isinstance(captions, CaptionFeatures):
            return self.cse_module(feats.text_feats, captions.feats, target,
                                   return_stats=True)
        if not isinstance(captions, CaptionTokens):
            raise TypeError(
                'The CSE loss takes captions=CaptionFeatures or '
                f'CaptionTokens, got {type(captions).__name__} (see '
                'mmltml.structures.head_inputs).')
        prompts = feats.prompt_embeds
        if prompts is None:
            raise ValueError(
                'The token-space CSE loss (CaptionTokens) needs the prompt '
                'embeddings [C, L, W]: learnable prompts, not encoded in '
                "chunks (set the backbone's text_chunk_size=0 for many "
                'classes)')
        token_embeds, mask = captions.embeds, captions.mask
        shift = self.token_shift
        length = min(prompts.shape[1] - shift, token_embeds.shape[1])
        mask = mask[:, :length] if self.token_caption_mask else None
        return self.cse_module(prompts[:, shift:shift + length],
                               token_embeds[:, :length], target,
                               caption_mask=mask, return_stats=True)
