# Copyright (c) mmltml contributors. All rights reserved.
"""Text-encoder features of the batch's captions."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.head_inputs import CaptionFeatures
from .base_head_input import BaseHeadInput, batch_captions, check_max_chars


@MODELS.register_module()
class CaptionFeaturesInput(BaseHeadInput):
    """:class:`~mmltml.structures.head_inputs.CaptionFeatures` of each
    image's caption: the backbone's frozen text-encoder features
    (``model.backbone.encode_captions``, e.g.
    :class:`~mmltml.models.backbones.CLIPPromptBackbone`'s, cached per
    caption). LMPT's CSE loss in its ``'encoder'`` space (the paper's).

    Args:
        max_chars (int, optional): Keep only the first ``max_chars``
            characters of each caption line (after collapsing runs of
            whitespace), as LMPT's released code does with 75
            (``lmpt/imagelist.py``): a COCO-LT caption line holds the five
            COCO captions of the image, so 75 characters are about the
            first one, often cut mid-word. ``None`` (default) encodes the
            whole line, up to the text encoder's context length.
    """

    output_type = CaptionFeatures

    def __init__(self, max_chars: Optional[int] = None) -> None:
        super().__init__()
        self.max_chars = check_max_chars(max_chars)

    def forward(self, model: nn.Module, inputs: Union[torch.Tensor, dict],
                data_samples: List[DataSample]) -> CaptionFeatures:
        """The caption features ``[B, E]`` of the batch."""
        texts = batch_captions(data_samples, self.max_chars)
        return CaptionFeatures(model.backbone.encode_captions(texts))

    def extra_repr(self) -> str:
        return f'max_chars={self.max_chars}'
