# Copyright (c) mmltml contributors. All rights reserved.
"""The head of a fully fine-tuned CLIP multi-label classifier (LM-CLIP)."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.class_dependent import ClassDependent, ClassField
from mmltml.structures.head_inputs import (HeadInputRequest, LabelCaptions,
                                           RequestsHeadInputs)
from ..losses.utils import autocast_off
from ..text_embeds import ClassTextEmbeds, CLIPClassTextEmbeds
from .logits import PredLogitsMixin


@MODELS.register_module()
class CLIPFineTuneHead(PredLogitsMixin, MultiLabelClsHead, RequestsHeadInputs,
                       ClassDependent):
    r"""Class scores of a whole CLIP fine-tuned as a multi-label classifier,
    and LM-CLIP's loss.

    LM-CLIP (Timmermann et al., IEEE Access 13:71053-71065, 2025; official
    ``damilab/lm-clip``, ``model_openai_clip.py:351-385``; only the abstract
    of the paper could be read, so no equation numbers are cited) trains
    every CLIP parameter, both towers and the temperature. For an image
    embedding :math:`v_i` (the backbone's output, e.g.
    :class:`~mmltml.models.backbones.CLIPVisionBackbone` with
    ``out_type='embedding'``, trainable) and the class text embeddings
    :math:`t_c` of "a photo of a {class}", re-encoded through the
    trainable text tower at every step, the class logits are

    .. math::

        z_{ic} = s \, \langle \hat v_i, \hat t_c \rangle, \qquad
        s = \exp(\log s),

    with :math:`\hat{\cdot}` the L2-normalised vectors and :math:`\log s`
    CLIP's own ``logit_scale`` parameter (trainable, starting at the
    pretrained value, ln 100 for OpenAI's weights, and never clamped, as in
    the official code). There is no bias and no extra layer. The training
    loss is

    .. math::

        L = L_{CLIP}(v, u, s) + \lambda L_{BAL}(z, y),

    where :math:`u_i` is the text embedding of image :math:`i`'s label
    caption ("a photo of a c1, c2"; the head input ``label_captions``,
    :class:`~mmltml.structures.head_inputs.LabelCaptions`, cut at a word
    boundary to fit the context as the official code does) through the
    same text tower, :math:`L_{CLIP}` is ``contrastive_loss``
    (:class:`~mmltml.models.losses.CLIPContrastiveLoss`, open_clip's
    ``ClipLoss``) and :math:`\lambda L_{BAL}` is ``loss`` with its
    ``loss_weight`` (:class:`~mmltml.models.losses.BalancedAsymmetricLoss`
    from the ``configs/_base_/losses/bal_*.py`` fragments; any mmpretrain
    multi-label loss works). The two are logged as ``loss_clip`` and
    ``loss_cls``. ``contrastive_loss=None`` keeps the classification loss
    alone (and requests no head input).

    The text side is the submodule ``text_embeds``, a
    :class:`~mmltml.models.text_embeds.ClassTextEmbeds` that must hold a
    trainable :class:`~mmltml.models.text_embeds.CLIPClassTextEmbeds`
    (its CLIP text tower encodes the class prompts and the label captions;
    with ``train_logit_scale=True`` its ``logit_scale`` is the trained
    :math:`\log s`). Give it the CLIP weights of the image tower.

    Predictions carry ``pred_score = sigmoid(z)`` and the fp32 logits
    ``pred_logits`` that rankings use (:mod:`mmltml.models.heads.logits`);
    the official evaluation ranks softmax-over-classes scores instead.

    Args:
        num_classes (int): Number of classes C.
        text_embeds (dict): Config of a trainable ``CLIPClassTextEmbeds``
            (``num_classes`` is filled in), e.g.
            ``dict(type='CLIPClassTextEmbeds', classnames='coco-lt',
            template='a photo of a {}', trainable=True,
            train_logit_scale=True)``.
        loss (dict): Classification loss config. Defaults to mmpretrain's
            sigmoid cross-entropy.
        contrastive_loss (dict, optional): Image / label-caption loss
            config. Defaults to ``dict(type='CLIPContrastiveLoss')``.
        thr, topk: Prediction rule as in ``MultiLabelClsHead``.
        init_cfg (dict, optional): Initialisation config (the CLIP weights
            come from ``text_embeds``).
    """

    def __init__(self,
                 num_classes: int,
                 text_embeds: dict,
                 loss: dict = dict(type='CrossEntropyLoss', use_sigmoid=True),
                 contrastive_loss: Optional[dict] = dict(
                     type='CLIPContrastiveLoss'),
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.text_embeds = ClassTextEmbeds(text_embeds, num_classes)
        source = self.text_embeds.source
        if not (isinstance(source, CLIPClassTextEmbeds) and source.trainable):
            raise TypeError(
                'CLIPFineTuneHead needs text_embeds=dict(type='
                "'CLIPClassTextEmbeds', trainable=True, ...): its CLIP text "
                'tower encodes the class prompts and the label captions, '
                f'got {type(source).__name__}')
        self.contrastive_module = (None if contrastive_loss is None else
                                   MODELS.build(contrastive_loss))

    @property
    def text_tower(self) -> CLIPClassTextEmbeds:
        """The trainable CLIP text side (class prompts, captions, scale)."""
        return self.text_embeds.source

    def class_fields(self) -> List[ClassField]:
        """``num_classes`` (its class prompts are checked against it when
        built)."""
        return [ClassField('num_classes', self.num_classes)]

    def head_input_requests(self) -> Tuple[HeadInputRequest, ...]:
        """``label_captions`` when the head has a contrastive loss."""
        if self.contrastive_module is None:
            return ()
        return (HeadInputRequest('label_captions', (LabelCaptions, )), )

    def pre_logits(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The image embeddings ``[B, E]`` (the last backbone output)."""
        return feats[-1]

    def logit_scale(self) -> torch.Tensor:
        """The temperature :math:`s = \\exp(\\log s)` (fp32 scalar)."""
        return self.text_tower.logit_scale.float().exp()

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Logits ``[B, C]`` :math:`s \\cos(v_i, t_c)`, in fp32 (also
        under autocast)."""
        image = self.pre_logits(feats)
        text = self.text_embeds()
        with autocast_off(image.device):
            image = F.normalize(image.float(), dim=-1)
            text = F.normalize(text.float(), dim=-1)
            return self.logit_scale() * image @ text.t()

    def loss(self,
             feats: Tuple[torch.Tensor, ...],
             data_samples: List[DataSample],
             label_captions: Optional[LabelCaptions] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_cls`` (the classification loss, :math:`\\lambda L_{BAL}`)
        and ``loss_clip`` (:math:`L_{CLIP}` on the label captions)."""
        cls_score = self(feats)
        losses = dict(
            loss_cls=self._get_loss(cls_score, data_samples, **kwargs)['loss'])
        if self.contrastive_module is None:
            return losses
        if not isinstance(label_captions, LabelCaptions):
            raise TypeError('CLIPFineTuneHead takes label_captions='
                            'LabelCaptions (the LabelCaptionsInput head '
                            f'input), got {type(label_captions).__name__}')
        if len(label_captions.texts) != cls_score.size(0):
            raise ValueError(f'{len(label_captions.texts)} label captions for '
                             f'{cls_score.size(0)} images')
        captions = self.text_tower.encode_texts(label_captions.texts,
                                                cut_words=True)
        losses['loss_clip'] = self.contrastive_module(
            self.pre_logits(feats), captions, self.logit_scale())
        return losses
