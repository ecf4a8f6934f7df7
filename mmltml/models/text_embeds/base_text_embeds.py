# Copyright (c) mmltml contributors. All rights reserved.
"""What every source of class text embeddings provides."""
import torch
import torch.nn as nn


class BaseTextEmbeds(nn.Module):
    """A source of the class text embeddings :math:`T \\in R^{C \\times m}`.

    Calling the module computes the embeddings ``[C, m]`` (fp32). Heads do
    not call a source themselves: they hold a
    :class:`~mmltml.models.text_embeds.ClassTextEmbeds`, which builds the
    source and decides when to run it from these flags:

    - ``trainable`` sources are part of the model (their weights are saved
      and trained) and are called at every forward pass.
    - The others are called once; their result is kept in a buffer.
    - ``deferred`` sources cost a CLIP build: they are called (or, when
      trainable, their ``load_pretrained``) in ``init_weights`` or at the
      first forward pass, never when a checkpoint fills the buffer (or the
      tower) first.

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

    def load_pretrained(self) -> None:
        """Load the pretrained weights of a trainable, deferred source."""
        raise NotImplementedError(
            f'{type(self).__name__} has no pretrained weights to load')

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}, dims={self.dims}'
