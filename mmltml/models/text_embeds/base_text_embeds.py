# Copyright (c) mmltml contributors. All rights reserved.
"""What every source of class text embeddings provides."""
import torch
import torch.nn as nn


class BaseTextEmbeds(nn.Module):
    """A source of the class text embeddings :math:`T \\in R^{C \\times m}`
    that :class:`~mmltml.models.heads.VSIHead` maps to class prompts.

    Calling the module returns the embeddings ``[C, m]`` (fp32).

    - ``trainable`` sources are part of the model: the head keeps them as
      its submodule ``text_encoder`` and calls them every forward pass.
    - The others are called once; the head keeps the result in its
      persistent buffer ``text_embeds``.
    - ``deferred`` sources cost a CLIP build: the head calls them (or, when
      trainable, their ``load_pretrained``) in ``init_weights`` or at its
      first forward pass, never when a checkpoint fills it first.

    Args:
        num_classes (int): Number of classes C (set by the head).
        dims (int): Width m of the embeddings.
    """

    trainable: bool = False
    deferred: bool = False

    def __init__(self, num_classes: int, dims: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.dims = dims

    def forward(self) -> torch.Tensor:
        """The class text embeddings, shape ``[C, m]``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}, dims={self.dims}'
