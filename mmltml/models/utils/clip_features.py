# Copyright (c) mmltml contributors. All rights reserved.
"""Named output of :class:`~mmltml.models.backbones.CLIPPromptBackbone`."""
from typing import NamedTuple, Optional

import torch


class CLIPPromptFeatures(NamedTuple):
    """What a CLIP prompt backbone hands its head.

    A tuple (mmpretrain code that passes ``feats`` around keeps working);
    heads read the fields by name.

    Attributes:
        image_feats (Tensor): Image features [B, E] (not normalised).
        text_feats (Tensor): Class text features [C, E] (not normalised).
        logit_scale (Tensor): Scalar multiplier of the cosine logits.
        prompt_embeds (Tensor, optional): Prompt token embeddings
            [C, L, W] of learnable prompts; None for fixed templates and
            for prompts encoded in chunks (``text_chunk_size``).
    """

    image_feats: torch.Tensor
    text_feats: torch.Tensor
    logit_scale: torch.Tensor
    prompt_embeds: Optional[torch.Tensor]
