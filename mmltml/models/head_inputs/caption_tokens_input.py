# Copyright (c) mmltml contributors. All rights reserved.
"""Token embeddings of the batch's captions."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.head_inputs import CaptionTokens
from .base_head_input import BaseHeadInput, batch_captions, check_max_chars


@MODELS.register_module()
class CaptionTokensInput(BaseHeadInput):
    """:class:`~mmltml.structures.head_inputs.CaptionTokens` of each
    image's caption: the backbone's frozen token embeddings and the valid
    positions (``model.backbone.caption_token_embeds``, e.g.
    :class:`~mmltml.models.backbones.CLIPPromptBackbone`'s). LMPT's CSE
    loss in its ``'token'`` space (the released code's).

    Args:
        max_chars (int, optional): Keep only the first ``max_chars``
            characters of each caption line, as
            :class:`CaptionFeaturesInput` does. Defaults to None.
    """

    output_type = CaptionTokens

    def __init__(self, max_chars: Optional[int] = None) -> None:
        super().__init__()
        self.max_chars = check_max_chars(max_chars)

    def forward(self, model: nn.Module, inputs: Union[torch.Tensor, dict],
                data_samples: List[DataSample]) -> CaptionTokens:
        """The caption token embeddings ``[B, L, W]`` and mask ``[B, L]``."""
        texts = batch_captions(data_samples, self.max_chars)
        return CaptionTokens(*model.backbone.caption_token_embeds(texts))

    def extra_repr(self) -> str:
        return f'max_chars={self.max_chars}'
