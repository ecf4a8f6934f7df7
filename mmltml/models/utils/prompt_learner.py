# Copyright (c) mmltml contributors. All rights reserved.
"""CoOp prompt learner (Zhou et al., IJCV 2022), as LMPT uses it."""
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .chunked_text import chunked_encode
from .clip_text import check_text_tower, encode_text_embeddings, eot_positions


class PromptFeatures(NamedTuple):
    """Class prompts and their text features (:meth:`PromptLearner.encode`).

    Attributes:
        text_feats (Tensor): Text features ``[C, E]`` (fp32, not
            normalised): the projected end-of-text token.
        prompt_embeds (Tensor): Prompt token embeddings ``[C, L, W]``.
    """

    text_feats: torch.Tensor
    prompt_embeds: torch.Tensor


@MODELS.register_module()
class PromptLearner(nn.Module):
    """Learnable context tokens in front of each class name.

    The prompt of class ``i`` is the token-embedding sequence
    ``[SOS] V_1 ... V_M <classname> . [EOT] [pad]...`` (class token at the
    end, LMPT Eq. 1), where ``V_1..V_M`` are learnable vectors of the text
    tower's width and everything else is the frozen token embedding of
    ``"X X ... X <classname>."``.

    Any module with an open_clip text tower builds as many as it needs
    (e.g. HP-DVAL's global and local prompts) from configs, giving the
    tower, its tokenizer and the class names::

        self.prompts = MODELS.build(
            dict(type='PromptLearner', n_ctx=4, ctx_init='a photo of a',
                 class_specific=False),
            default_args=dict(clip=clip, tokenizer=tokenizer,
                              classnames=classnames))
        text_feats, prompt_embeds = self.prompts.encode(clip)

    The learner keeps only its context (``ctx``, the one parameter) and
    the prompt tokens; it never holds the CLIP model, so the tower it is
    encoded with (frozen or trainable) is its owner's. The frozen tokens
    are looked up without gradients (CoOp's fixed prefix and suffix): a
    trainable tower's transformer learns through the prompts, its token
    embedding does not.

    Args:
        clip: an open_clip ``CLIP`` (only its ``token_embedding`` is read).
        tokenizer: the model's open_clip tokenizer.
        classnames: class names, in label order.
        n_ctx: number of context tokens M (ignored with ``ctx_init``).
        ctx_init: initialise the context from the token embeddings of this
            text (e.g. ``'a photo of a'``); M is then its BPE token count.
            ``None`` draws N(0, ``init_std``^2).
        class_specific: one context per class ([C, M, W]) instead of one
            shared context ([M, W]).
        init_std: standard deviation of the random initialisation.
    """

    def __init__(self,
                 clip: nn.Module,
                 tokenizer: Callable,
                 classnames: Sequence[str],
                 n_ctx: int = 16,
                 ctx_init: Optional[str] = None,
                 class_specific: bool = True,
                 init_std: float = 0.02) -> None:
        super().__init__()
        check_text_tower(clip)
        self.num_classes = len(classnames)
        self.class_specific = class_specific
        embedding = clip.token_embedding
        width = embedding.weight.shape[1]
        if ctx_init:
            ctx, prefix = self._context_from_text(embedding, tokenizer,
                                                  ctx_init)
            if class_specific:
                ctx = ctx.unsqueeze(0).repeat(self.num_classes, 1, 1)
        else:
            shape = (self.num_classes, n_ctx) if class_specific else (n_ctx, )
            ctx = torch.randn(*shape, width) * init_std
            prefix = ' '.join(['X'] * n_ctx)
        self.n_ctx = ctx.shape[-2]
        self.ctx = nn.Parameter(ctx)
        self.texts = [f'{prefix} {name}.' for name in classnames]
        self._register_frozen_tokens(embedding, tokenizer)

    @staticmethod
    def _context_from_text(embedding: nn.Embedding, tokenizer: Callable,
                           text: str) -> Tuple[torch.Tensor, str]:
        tokens = tokenizer([text])[0]
        n_ctx = int(eot_positions(tokens[None])[0]) - 1
        with torch.no_grad():
            ctx = embedding(tokens[1:1 + n_ctx]).float().clone()
        return ctx, text

    def _register_frozen_tokens(self, embedding: nn.Embedding,
                                tokenizer: Callable) -> None:
        tokens = tokenizer(self.texts)
        length = tokens.shape[1]
        # open_clip cuts a long text and ends it with EOT: one spare slot
        # shows which texts were cut
        wide = eot_positions(tokenizer(self.texts, context_length=length + 1))
        too_long = [t for t, e in zip(self.texts, wide) if e >= length]
        if too_long:
            raise ValueError(
                f'{len(too_long)} prompt(s) do not fit the text context '
                f'length {length} ({self.n_ctx} context tokens + class name'
                f'), e.g. {too_long[0]!r}: shorten the class names or use '
                'fewer context tokens.')
        eot = eot_positions(tokens)
        # Derived from the tokenizer: not saved in checkpoints.
        self.register_buffer('tokens', tokens, persistent=False)
        self.register_buffer('eot', eot, persistent=False)

    def forward(self, token_embedding: nn.Embedding) -> torch.Tensor:
        """Prompt token embeddings [C, L, W] (before positional ones).

        The frozen parts (SOS, class name, EOT, padding) are looked up in
        ``token_embedding`` at every call, so they always match the CLIP
        weights in use (e.g. after loading a checkpoint).
        """
        return self.assemble(token_embedding, self.tokens, self.ctx)

    def assemble(self, token_embedding: nn.Embedding, tokens: torch.Tensor,
                 ctx: torch.Tensor) -> torch.Tensor:
        """Prompt embeddings [n, L, W] of the classes whose frozen token ids
        are ``tokens`` [n, L] (rows of :attr:`tokens`) with the context
        ``ctx``: their rows of a class-specific context [n, M, W], or a
        shared one [M, W]. :meth:`forward` is all classes; the chunked text
        encoder builds one chunk of classes at a time."""
        if not self.class_specific:
            ctx = ctx.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        with torch.no_grad():
            frozen = token_embedding(tokens).to(ctx.dtype)
        return torch.cat(
            [frozen[:, :1], ctx, frozen[:, 1 + self.n_ctx:]], dim=1)

    def encode(self, clip: nn.Module, truncate: bool = True) -> PromptFeatures:
        """The prompts and their features through ``clip``'s text tower
        (LMPT Eq. 2: the projected end-of-text token).

        Args:
            clip: the open_clip ``CLIP`` whose text tower encodes them.
            truncate: run the tower only up to the last end-of-text
                position (exact under the causal mask; see
                :mod:`mmltml.models.utils.clip_text`).
        """
        prompts = self(clip.token_embedding)
        feats = encode_text_embeddings(clip, prompts, self.eot, truncate)
        return PromptFeatures(feats.float(), prompts)

    def encode_chunked(self, clip: nn.Module, truncate: bool,
                       chunk_size: int) -> torch.Tensor:
        """Text features [C, E] (fp32) of the prompts through ``clip``'s
        text tower, ``chunk_size`` classes at a time
        (:func:`~mmltml.models.utils.chunked_text.chunked_encode`): the
        memory of one chunk, the exact gradients of the context (its rows
        for a class-specific context) and of any tower weight that requires
        grad. The prompt embeddings [C, L, W] are never held whole.

        Args:
            clip: the open_clip ``CLIP`` whose text tower encodes them.
            truncate: run each chunk only up to its last end-of-text
                position (exact under the causal mask).
            chunk_size: classes per chunk.
        """
        rows = [self.tokens, self.eot]
        params = [p for p in clip.parameters() if p.requires_grad]
        if self.class_specific:
            rows.append(self.ctx)
        else:
            params.append(self.ctx)

        def encode(tokens: torch.Tensor, eot: torch.Tensor,
                   ctx: torch.Tensor = self.ctx) -> torch.Tensor:
            prompts = self.assemble(clip.token_embedding, tokens, ctx)
            return encode_text_embeddings(clip, prompts, eot,
                                          truncate).float()

        return chunked_encode(encode, rows, chunk_size, params)
