# Copyright (c) mmltml contributors. All rights reserved.
"""Encode fixed class prompts with the text tower of an open_clip model."""
from typing import Callable, List, Sequence

import torch
import torch.nn as nn


def format_prompts(classnames: Sequence[str], template: str) -> List[str]:
    """Fill ``template`` with every class name (``_`` becomes a space)."""
    return [template.format(name.replace('_', ' ')) for name in classnames]


class CLIPTextEncoder(nn.Module):
    """The text tower of an open_clip model applied to fixed prompts.

    The forward pass returns ``clip_model.encode_text(tokens,
    normalize=False)`` in fp32: the end-of-text token after the final
    LayerNorm, times the text projection, not L2-normalised. The image tower
    of ``clip_model`` is dropped (set to ``None``) and the logit scale/bias
    are frozen, so every remaining parameter is used by the forward pass.

    Args:
        clip_model (nn.Module): An open_clip ``CLIP`` or ``CustomTextCLIP``.
        tokenizer (Callable): Its tokenizer (list of str -> LongTensor).
        prompts (Sequence[str]): The prompts to encode, one per class.
    """

    def __init__(self, clip_model: nn.Module, tokenizer: Callable,
                 prompts: Sequence[str]) -> None:
        super().__init__()
        clip_model.visual = None
        for name in ('logit_scale', 'logit_bias'):
            param = getattr(clip_model, name, None)
            if isinstance(param, nn.Parameter):
                param.requires_grad_(False)
        self.clip = clip_model
        self.register_buffer(
            'tokens', tokenizer(list(prompts)), persistent=False)

    def forward(self) -> torch.Tensor:
        """Return the prompt embeddings, shape ``[num_prompts, m]``."""
        return self.clip.encode_text(self.tokens, normalize=False).float()
