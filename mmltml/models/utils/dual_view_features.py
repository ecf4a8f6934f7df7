# Copyright (c) mmltml contributors. All rights reserved.
"""Named output of dual-view image backbones (HP-DVAL's student)."""
from typing import NamedTuple

import torch


class DualViewFeatures(NamedTuple):
    """The global and the local view of a batch of images, in the joint
    image-text embedding space (HP-DVAL, IEEE TIP 2025, Sec. III-B).

    A tuple (mmpretrain code that passes ``feats`` around keeps working);
    heads read the fields by name.

    Attributes:
        cls_embed (Tensor): Global embedding ``e_cls`` ``[B, E]``: the
            [CLS] token (ViT) or the attention-pooled image (ResNet),
            projected, not L2-normalised.
        patch_embeds (Tensor): Local embeddings ``e_j`` ``[B, P, E]``:
            one per patch (ViT) or feature-map position (ResNet),
            projected like ``cls_embed``, not L2-normalised.
    """

    cls_embed: torch.Tensor
    patch_embeds: torch.Tensor

    @classmethod
    def from_tokens(cls, tokens: torch.Tensor) -> 'DualViewFeatures':
        """Split ``[B, 1 + P, E]`` tokens, the global one first (the
        layout of a cached dual view)."""
        if tokens.dim() != 3 or tokens.size(1) < 2:
            raise ValueError('dual-view tokens must have shape [B, 1 + P, '
                             f'E] with P >= 1, got {list(tokens.shape)}')
        return cls(tokens[:, 0], tokens[:, 1:])

    def tokens(self) -> torch.Tensor:
        """``[B, 1 + P, E]``: ``cls_embed`` first, then ``patch_embeds``."""
        return torch.cat([self.cls_embed[:, None], self.patch_embeds], 1)
