# Copyright (c) mmltml contributors. All rights reserved.
"""A frozen CLIP image tower's embedding of the batch (distillation)."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.head_inputs import TeacherFeatures
from ..backbones.clip_vision_backbone import CLIPVisionBackbone
from .base_head_input import BaseHeadInput


@MODELS.register_module()
class FrozenCLIPTeacherInput(BaseHeadInput):
    """:class:`~mmltml.structures.head_inputs.TeacherFeatures` of the
    batch: ``encode_image`` of a frozen open_clip image tower of its own
    (HP-DVAL's teacher, Eq. 2: ``L_kd = ||f_CLIP - f_cls||_1``).

    The tower is a **separate copy**, a frozen
    :class:`~mmltml.models.backbones.CLIPVisionBackbone` (dual view, whose
    ``cls_embed`` is CLIP's ``encode_image``) built here from
    ``clip_model_name`` / ``clip_pretrained`` (or ``clip_model_cfg``): it
    shares no module with the student, gets no gradient, runs under
    ``torch.no_grad`` and stays in eval mode. A CLIP student with the
    teacher's weights computes exactly the teacher's embedding (the same
    code). (HP-DVAL's released code takes the teacher's features
    from the module objects the student is built from, so its distillation
    loss is exactly 0 with zero gradient, or it crashes for batch sizes
    other than 2; ref-hpdval §0 item 2, §6.1.) With the student initialised
    from the same CLIP weights, ``L_kd`` starts at 0 and grows as the
    student drifts.

    The teacher sees the batch exactly as the student does (after the data
    pre-processor), so both get the same input normalisation. Cached image
    features cannot feed it (the student that takes them is frozen, and
    then there is nothing to distil).

    The features are computed at every step, not cached: HP-DVAL trains
    with a random cutout and RandAugment drawn per step, so the teacher's
    input differs at every epoch (one no-grad forward, about a third of the
    student's forward and backward).

    Checkpoints leave the tower out when it is rebuilt at construction
    (``clip_pretrained`` given), as the backbone does; a random tower is
    saved.

    Args:
        clip_model_name (str, optional): open_clip model name, e.g.
            ``'ViT-B-16-quickgelu'``.
        clip_pretrained (str, optional): Pretrained tag or local weights
            file.
        clip_model_cfg (dict | str, optional): open_clip ``CLIP`` config
            (or a built-in name) instead of ``clip_model_name``.
        save_frozen (bool, optional): Keep the tower in checkpoints;
            ``None`` (default): only when it is not rebuilt at
            construction.
    """

    output_type = TeacherFeatures

    def __init__(self,
                 clip_model_name: Optional[str] = None,
                 clip_pretrained: Optional[str] = None,
                 clip_model_cfg: Union[dict, str, None] = None,
                 save_frozen: Optional[bool] = None) -> None:
        super().__init__()
        self.teacher = CLIPVisionBackbone(
            clip_model_name=clip_model_name,
            clip_pretrained=clip_pretrained,
            clip_model_cfg=clip_model_cfg,
            out_type='dual_view',
            frozen=True,
            save_frozen=save_frozen)

    @torch.no_grad()
    def forward(self, model: nn.Module, inputs: Union[torch.Tensor, dict],
                data_samples: List[DataSample]) -> TeacherFeatures:
        """The teacher's image embedding ``[B, E]`` (fp32) of the batch."""
        if not isinstance(inputs, torch.Tensor):
            raise TypeError('FrozenCLIPTeacherInput needs the batch images; '
                            'cached image features cannot feed the teacher '
                            '(serve images: no CachedFeatureDataset for '
                            'training)')
        return TeacherFeatures(self.teacher(inputs).cls_embed.float())
