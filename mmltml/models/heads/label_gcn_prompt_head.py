# Copyright (c) mmltml contributors. All rights reserved.
"""LT-GCN / CapNet: cosine classifiers from prompt text features refined by
a GCN."""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from mmltml.structures.class_dependent import ClassDependent, ClassField
from ..losses.utils import autocast_off
from ..utils.clip_features import CLIPPromptFeatures
from ..utils.gcn_text_adapter import GCNTextAdapter
from .clip_prompt_head import CLIPPromptHead


@MODELS.register_module()
class LabelGCNPromptHead(CLIPPromptHead, ClassDependent):
    r"""Cosine classifiers over GCN-refined prompt features (LT-GCN,
    ``Wang-zuozheng/LT-GCN``; CapNet, arXiv 2511.20641).

    Takes the :class:`~mmltml.models.utils.clip_features.CLIPPromptFeatures`
    of :class:`~mmltml.models.backbones.CLIPPromptBackbone`: the image
    features ``v`` ``[B, E]`` and the class text features ``T`` ``[C, E]``
    of its learnable prompts (prompts -> text tower), and computes::

        T' = GCN(T) + b T                  (GCNTextAdapter, b = 1)
        logits[k, i] = s * cos(v_k, T'_i)

    with ``s`` fixed (LT-GCN: 10; ``logit_scale=None`` uses CLIP's
    ``exp(logit_scale)`` as :class:`CLIPPromptHead` does) or learned
    (``learn_scale=True``, CapNet's trainable temperature, initialised at
    ``logit_scale``). Everything else (the loss, the optional CSE loss,
    ``pred_logits``) is :class:`CLIPPromptHead`'s; the GCN is computed in
    fp32 also under autocast.

    The label graph is the adapter's (its ``graph`` config): in the LT-GCN
    configs the cosine similarities of the class text features, taken from
    the adapter's first input (the prompts "a photo of a {name}." at
    initialisation) and stored in the checkpoint.

    Args:
        num_classes (int): Number of classes C (the adapter's).
        adapter (dict): :class:`~mmltml.models.utils.GCNTextAdapter`
            config; ``num_classes`` is filled in, ``in_dims`` is the CLIP
            embedding width (RN50 1024, ViT-B/16 512) and the output keeps
            it.
        logit_scale (float, optional): Fixed scale ``s``, or the initial
            value of a learned one. Defaults to 10 (LT-GCN). None: CLIP's.
        learn_scale (bool): Learn ``log s``. Defaults to False.
        **kwargs: :class:`CLIPPromptHead` arguments (``loss``,
            ``cse_loss``, ``lambda_cls``, ``thr``, ``topk``, ...).
    """

    def __init__(self,
                 num_classes: int,
                 adapter: dict = dict(type='GCNTextAdapter', in_dims=1024),
                 logit_scale: Optional[float] = 10.0,
                 learn_scale: bool = False,
                 **kwargs) -> None:
        super().__init__(logit_scale=logit_scale, **kwargs)
        self.num_classes = num_classes
        self.adapter = MODELS.build(
            adapter, default_args=dict(num_classes=num_classes))
        if not isinstance(self.adapter, GCNTextAdapter):
            raise TypeError(f'adapter must build a GCNTextAdapter, got '
                            f'{type(self.adapter).__name__}')
        if self.adapter.dims[0] != self.adapter.dims[-1]:
            raise ValueError(f'the adapter of cosine classifiers maps the '
                             f'text features to their own width, got dims '
                             f'{self.adapter.dims}')
        self.log_scale = None
        if learn_scale:
            if logit_scale is None:
                raise ValueError('learn_scale needs an initial logit_scale')
            self.log_scale = nn.Parameter(
                torch.tensor(math.log(logit_scale)))

    def pre_logits(
            self, feats: CLIPPromptFeatures
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image features, refined class text features ``T'``, scale)."""
        image_feats, text_feats, logit_scale = super().pre_logits(feats)
        if self.log_scale is not None:
            logit_scale = self.log_scale.exp()
        with autocast_off(text_feats.device):
            text_feats = self.adapter(text_feats.float())
        return image_feats, text_feats, logit_scale

    def class_fields(self) -> List[ClassField]:
        """``num_classes`` (the adapter declares its own fields)."""
        return [ClassField('num_classes', self.num_classes)]
