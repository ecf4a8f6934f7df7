# Copyright (c) mmltml contributors. All rights reserved.
"""Class text embeddings read from a file."""
import os.path as osp

import numpy as np
import torch
from mmpretrain.registry import MODELS

from .base_text_embeds import BaseTextEmbeds


@MODELS.register_module()
class FileTextEmbeds(BaseTextEmbeds):
    """Precomputed embeddings ``[C, m]`` from a ``.pt`` tensor or a
    ``.npy`` array (e.g. the Word2Vec / GloVe vectors of the class names).

    The file is read at construction.

    Args:
        num_classes (int): Number of classes C (set by the head).
        path (str): The file.
    """

    def __init__(self, num_classes: int, path: str) -> None:
        embeds = _load_embeds(path)
        if embeds.dim() != 2 or embeds.size(0) != num_classes:
            raise ValueError(f'text embeddings file {path} must hold shape '
                             f'[{num_classes}, m], got {list(embeds.shape)}')
        super().__init__(num_classes, embeds.size(1))
        self.path = path
        self._embeds = embeds.detach().float()

    def forward(self) -> torch.Tensor:
        """The embeddings of the file."""
        return self._embeds


def _load_embeds(path: str) -> torch.Tensor:
    """Load a ``.pt`` tensor or a ``.npy`` array."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'text embeddings file not found: {path}')
    try:
        if path.endswith('.npy'):
            return torch.from_numpy(np.load(path))
        embeds = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # unpickling, zip and numpy format errors
        raise ValueError(f'text embeddings file {path} cannot be read: '
                         f'{type(error).__name__}: {error}') from error
    if not isinstance(embeds, torch.Tensor):
        raise TypeError(f'{path} must hold a tensor, got '
                        f'{type(embeds).__name__}')
    return embeds
