# Copyright (c) mmltml contributors. All rights reserved.
"""HP-DVAL's dual-view alignment head (scores and losses)."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.head_inputs import (HeadInputRequest,
                                           RequestsHeadInputs,
                                           TeacherFeatures)
from ..losses.utils import autocast_off
from ..utils.dual_view_features import DualViewFeatures
from ..utils.hierarchical_prompts import HierarchicalTextFeatures
from .logits import PredLogitsMixin

SCORE_NORMS = ('l2_over_classes', 'cosine')
SC_TARGETS = ('local', 'global', 'both')


@MODELS.register_module()
class DualViewAlignHead(PredLogitsMixin, MultiLabelClsHead,
                        RequestsHeadInputs):
    r"""Dual-view alignment of HP-DVAL (Yan et al., IEEE TIP 2025,
    arXiv 2509.17747): a [CLS] score and a top-k patch score per class,
    fused, with the distillation and semantic-consistency losses.

    Takes a backbone's
    :class:`~mmltml.models.utils.dual_view_features.DualViewFeatures`
    ``(e_cls [B, E], e_j [B, P, E])`` and the class texts of its
    :class:`~mmltml.models.utils.HierarchicalPrompts` ``text``
    ``(T^G, T^L, T^H)``. With ``score_norm='l2_over_classes'`` (the
    released code, ref-hpdval §1.4)::

        a_i = mean of the k largest e_j . T^L_i over the patches j
        b_i = e_cls . T^G_i
        s   = w * a / ||a||_2 + (1 - w) * b / ||b||_2

    (dot products of raw features; the norms over the C classes of each
    image), so ``|s_i|`` is about ``1 / sqrt(C)`` and no temperature enters
    (the released code's ``temperature`` and ``spatial_T`` cancel).
    ``score_norm='cosine'`` (the paper's Eq. 4-5 and 8-9) uses cosine
    similarities instead and no normalisation over classes. ``w`` is
    ``local_weight``, the weight of the **local** view: the released code's
    ``alpha`` (0.5 in the headline runs, 0.4 in the paper's text) is this
    weight, while the paper's Eq. 5 / 9 write ``alpha`` on the global view
    (ref-hpdval §6.3). ``s`` is the logit of every loss and of the
    predictions (``pred_logits``; ``pred_score = sigmoid(s)``).

    Losses (stage 1, Eq. 16: ``L_cls + lambda_kd L_kd``; stage 2, Eq. 17:
    ``L_cls + L_sc``):

    - ``loss_cls``: ``loss`` on ``s`` (HP-DVAL's DB*: ``DBLoss`` fragments
      ``configs/_base_/losses/hpdval-db_{coco,voc}-lt.py``);
    - ``loss_kd = kd_weight * mean |e_cls - t_cls|`` over the B x E
      elements (Eq. 2, mean-reduced as the code), ``t_cls`` from the head
      input ``teacher`` (:class:`~mmltml.structures.head_inputs.
      TeacherFeatures`, e.g. ``FrozenCLIPTeacherInput``: a separate
      frozen CLIP), requested when ``kd_weight > 0``;
    - ``loss_sc = sc_weight * mean |T^X - T^H|`` over the C x E elements
      (Eq. 10 with the code's mean): ``sc_target='local'`` anchors the
      local prompt (the released code), ``'global'`` the global one (the
      paper), ``'both'`` adds the two terms.

    Scores and losses are computed in fp32, also under autocast.

    Args:
        text (dict): Config of the class texts
            (``type='HierarchicalPrompts'``).
        patch_topk (int): k, the patches averaged per class. Defaults to 16
            (the headline runs; the paper states 32).
        local_weight (float): Weight of the local view in ``[0, 1]``.
            Defaults to 0.5.
        score_norm (str): ``'l2_over_classes'`` (default) or ``'cosine'``.
        loss (dict): Classification loss config.
        kd_weight (float): lambda_kd; 0 disables the distillation loss.
            Defaults to 0.
        sc_weight (float): Weight of L_sc; 0 disables it. Defaults to 0.
        sc_target (str): ``'local'`` (default), ``'global'`` or ``'both'``.
        thr, topk: Prediction rule as in ``MultiLabelClsHead``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 text: dict,
                 patch_topk: int = 16,
                 local_weight: float = 0.5,
                 score_norm: str = 'l2_over_classes',
                 loss: dict = dict(type='CrossEntropyLoss', use_sigmoid=True),
                 kd_weight: float = 0.,
                 sc_weight: float = 0.,
                 sc_target: str = 'local',
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        _check_choice('score_norm', score_norm, SCORE_NORMS)
        _check_choice('sc_target', sc_target, SC_TARGETS)
        if not 0 <= local_weight <= 1:
            raise ValueError(f'local_weight must be in [0, 1], got '
                             f'{local_weight}')
        if patch_topk < 1 or kd_weight < 0 or sc_weight < 0:
            raise ValueError('patch_topk must be positive and the loss '
                             f'weights non-negative, got {patch_topk}, '
                             f'{kd_weight}, {sc_weight}')
        self.text = MODELS.build(text)
        self.patch_topk = int(patch_topk)
        self.local_weight = float(local_weight)
        self.score_norm = score_norm
        self.kd_weight = float(kd_weight)
        self.sc_weight = float(sc_weight)
        self.sc_target = sc_target

    @property
    def num_classes(self) -> int:
        """C, the number of classes of the prompts."""
        return len(self.text.classnames)

    def head_input_requests(self) -> Tuple[HeadInputRequest, ...]:
        """``teacher`` when the distillation loss is on."""
        if self.kd_weight == 0:
            return ()
        return (HeadInputRequest('teacher', (TeacherFeatures, )), )

    def scores(self, feats: DualViewFeatures,
               text: HierarchicalTextFeatures) -> torch.Tensor:
        """The fused scores ``s`` ``[B, C]`` (fp32) of the dual view and
        the class texts (see the class docstring)."""
        num_patches = feats.patch_embeds.size(1)
        if self.patch_topk > num_patches:
            raise ValueError(f'patch_topk={self.patch_topk} exceeds the '
                             f'{num_patches} local embeddings of the '
                             'backbone')
        with autocast_off(feats.cls_embed.device):
            cls_embed = feats.cls_embed.float()
            patches = feats.patch_embeds.float()
            text_g, text_l = text.global_feats.float(), text.local_feats.float()
            if self.score_norm == 'cosine':
                cls_embed, patches = (F.normalize(cls_embed, dim=-1),
                                      F.normalize(patches, dim=-1))
                text_g, text_l = (F.normalize(text_g, dim=-1),
                                  F.normalize(text_l, dim=-1))
            local = (patches @ text_l.t()).topk(self.patch_topk, dim=1)
            local = local.values.mean(dim=1)
            global_ = cls_embed @ text_g.t()
            if self.score_norm == 'l2_over_classes':
                local = F.normalize(local, dim=-1)
                global_ = F.normalize(global_, dim=-1)
            return (self.local_weight * local +
                    (1 - self.local_weight) * global_)

    def forward(self, feats: DualViewFeatures) -> torch.Tensor:
        """The fused scores ``s`` ``[B, C]`` (the logits)."""
        return self.scores(feats, self.text())

    def loss(self,
             feats: DualViewFeatures,
             data_samples: List[DataSample],
             teacher: Optional[TeacherFeatures] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_cls``, and ``loss_kd`` / ``loss_sc`` when they are on."""
        text = self.text()
        losses = dict(loss_cls=self._get_loss(
            self.scores(feats, text), data_samples, **kwargs)['loss'])
        with autocast_off(feats.cls_embed.device):
            if self.kd_weight > 0:
                losses['loss_kd'] = self.kd_weight * self._kd(feats, teacher)
            if self.sc_weight > 0:
                losses['loss_sc'] = self.sc_weight * self._sc(text)
        return losses

    @staticmethod
    def _kd(feats: DualViewFeatures,
            teacher: Optional[TeacherFeatures]) -> torch.Tensor:
        """``mean |e_cls - t_cls|`` (Eq. 2, mean over B x E)."""
        if not isinstance(teacher, TeacherFeatures):
            raise TypeError('The distillation loss takes teacher='
                            'TeacherFeatures (the head input of a frozen '
                            f'teacher), got {type(teacher).__name__}')
        return F.l1_loss(feats.cls_embed.float(),
                         teacher.cls_embed.float().to(
                             feats.cls_embed.device))

    def _sc(self, text: HierarchicalTextFeatures) -> torch.Tensor:
        """``mean |T^X - T^H|`` of the ``sc_target`` prompt(s) (Eq. 10)."""
        anchored = {
            'local': (text.local_feats, ),
            'global': (text.global_feats, ),
            'both': (text.local_feats, text.global_feats)
        }[self.sc_target]
        hand = text.hand_feats.float()
        return sum(F.l1_loss(feats.float(), hand) for feats in anchored)

    def extra_repr(self) -> str:
        return (f'patch_topk={self.patch_topk}, local_weight='
                f'{self.local_weight}, score_norm={self.score_norm!r}, '
                f'kd_weight={self.kd_weight}, sc_weight={self.sc_weight}, '
                f'sc_target={self.sc_target!r}')


def _check_choice(name: str, value: str, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {choices}, got {value!r}')
