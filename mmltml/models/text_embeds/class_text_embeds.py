# Copyright (c) mmltml contributors. All rights reserved.
"""The class text embeddings of a head, with their whole lifecycle."""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .base_text_embeds import BaseTextEmbeds


@MODELS.register_module()
class ClassTextEmbeds(nn.Module):
    r"""The class text embeddings :math:`T \in \mathbb{R}^{C \times m}` a
    head uses, from one source, built, cached, saved and loaded here.

    A head holds one as a submodule and calls it; it never handles CLIP::

        self.text_embeds = ClassTextEmbeds(text_embeds, num_classes)
        T = self.text_embeds()            # [C, m], fp32
        width = self.text_embeds.dims     # m

    The source is a config of a registered
    :class:`~mmltml.models.text_embeds.BaseTextEmbeds` (``num_classes`` is
    filled in; fragments in ``configs/_base_/text_embeds/``), a built one,
    or a tensor ``[C, m]`` of precomputed embeddings. It is kept as the
    submodule ``source`` (None for a tensor).

    - **Frozen** sources are called once; their embeddings are kept in the
      persistent buffer ``embeds``, so checkpoints carry them and no CLIP
      model is kept.
    - **Trainable** sources (``CLIPClassTextEmbeds(trainable=True)``: a
      CLIP text tower) are part of the model, saved under ``source.``, and
      run at every call, with gradients.
    - **Deferred** sources cost a CLIP build: they run in
      :meth:`init_weights` (what mmengine's runner calls before training;
      a frozen source computes the embeddings, a trainable one loads its
      pretrained weights), never at construction and never when a
      checkpoint fills this module first (a load pre-hook sees the keys).
      Neither initialised nor loaded, they run at the first call.

    mmengine initialises a parent's ``init_cfg`` before its children, so
    the pretrained weights loaded here are the ones that stay: a head's
    ``init_cfg`` (e.g. ``Normal`` on every ``Linear``) never changes a
    pretrained text tower. A tower without pretrained weights
    (``clip_pretrained=None``) is an ordinary random submodule.

    Args:
        source (dict | BaseTextEmbeds | Tensor): The embeddings' source.
        num_classes (int): Number of classes C.

    Examples:
        >>> import torch
        >>> embeds = ClassTextEmbeds(
        ...     dict(type='RandomTextEmbeds', dims=8), num_classes=3)
        >>> embeds().shape, embeds.dims, list(embeds.state_dict())
        (torch.Size([3, 8]), 8, ['embeds'])
    """

    def __init__(self, source: Union[dict, BaseTextEmbeds, torch.Tensor],
                 num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self._pending = False
        self.register_load_state_dict_pre_hook(_loaded_from_checkpoint)
        if isinstance(source, torch.Tensor):
            self.source = None
            self.register_buffer(
                'embeds', self._checked(source, 'text_embeds'))
            self.dims = self.embeds.shape[-1]
            return
        self.source = self._build(source)
        self.dims = self.source.dims
        self._pending = self.source.deferred
        if not self.source.trainable:
            embeds = (torch.zeros(num_classes, self.dims) if self._pending
                      else self._run_source())
            self.register_buffer('embeds', embeds)

    @property
    def trainable(self) -> bool:
        """Whether the embeddings are recomputed, with gradients, at every
        call (a trainable source)."""
        return self.source is not None and self.source.trainable

    def _build(self, source: Union[dict, BaseTextEmbeds]) -> BaseTextEmbeds:
        """The source module, checked against ``num_classes``."""
        if isinstance(source, dict):
            source = MODELS.build(
                source, default_args=dict(num_classes=self.num_classes))
        if not isinstance(source, BaseTextEmbeds):
            raise TypeError(
                'text_embeds must be a text-embeddings config dict (e.g. '
                "dict(type='CLIPClassTextEmbeds', classnames=...)) or a "
                f'[C, m] tensor, got {type(source).__name__}')
        if source.num_classes != self.num_classes:
            raise ValueError(
                f'text_embeds has num_classes={source.num_classes}, the '
                f'head num_classes={self.num_classes}')
        return source

    def _checked(self, embeds: torch.Tensor, what: str,
                 dims: Optional[int] = None) -> torch.Tensor:
        """``embeds`` detached in fp32 on the CPU, if it has shape
        ``[C, m]`` (``m = dims`` when given)."""
        embeds = embeds.detach().float().cpu()
        shape = [self.num_classes, embeds.size(-1) if dims is None else dims]
        if list(embeds.shape) != shape:
            width = 'm' if dims is None else dims
            raise ValueError(f'{what}: text embeddings must have shape '
                             f'[{self.num_classes}, {width}], got '
                             f'{list(embeds.shape)}')
        return embeds

    @torch.no_grad()
    def _run_source(self) -> torch.Tensor:
        """The frozen source's embeddings, checked."""
        return self._checked(self.source(), type(self.source).__name__,
                             self.dims)

    @torch.no_grad()
    def init_weights(self) -> None:
        """Run a deferred source once: fill ``embeds`` (frozen) or load the
        pretrained tower (trainable)."""
        if not self._pending:
            return
        self._pending = False
        if self.source.trainable:
            self.source.load_pretrained()
        else:
            self.embeds.copy_(self._run_source())

    def forward(self) -> torch.Tensor:
        """The class text embeddings ``[C, m]`` (fp32)."""
        if self._pending:  # neither initialised nor loaded
            self.init_weights()
        if self.trainable:
            return self.source()
        return self.embeds

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, dims={self.dims}, '
                f'trainable={self.trainable}')


def _loaded_from_checkpoint(module: ClassTextEmbeds, state_dict: dict,
                            prefix: str, *args) -> None:
    """Load pre-hook: a checkpoint that holds the embeddings (or the
    trainable tower) makes the deferred source run unnecessary."""
    key = f'{prefix}source.' if module.trainable else f'{prefix}embeds'
    if any(k.startswith(key) for k in state_dict):
        module._pending = False
