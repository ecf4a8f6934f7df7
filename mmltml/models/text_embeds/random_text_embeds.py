# Copyright (c) mmltml contributors. All rights reserved.
"""Fixed random class embeddings (CPRFL's Fig. 3 ablation)."""
import torch
from mmpretrain.registry import MODELS

from .base_text_embeds import BaseTextEmbeds


@MODELS.register_module()
class RandomTextEmbeds(BaseTextEmbeds):
    """Fixed N(0, 1) vectors ``[C, dims]`` drawn with their own seed.

    CPRFL's random initialisation (Fig. 3): the PI network alone then makes
    the class prompts; no class names or CLIP are needed.

    Args:
        num_classes (int): Number of classes C (set by the head).
        dims (int): Width m of the vectors.
        seed (int): Seed of the vectors (the global RNG is not used).
            Defaults to 0.

    Examples:
        >>> from mmpretrain.registry import MODELS
        >>> MODELS.build(dict(type='RandomTextEmbeds', num_classes=3,
        ...                   dims=8))().shape
        torch.Size([3, 8])
    """

    def __init__(self, num_classes: int, dims: int, seed: int = 0) -> None:
        if dims <= 0:
            raise ValueError(
                f'RandomTextEmbeds dims ({dims}) must be a positive integer.')
        super().__init__(num_classes, dims)
        self.seed = seed

    def forward(self) -> torch.Tensor:
        """The vectors, the same at every call."""
        generator = torch.Generator().manual_seed(self.seed)
        return torch.randn(self.num_classes, self.dims, generator=generator)
