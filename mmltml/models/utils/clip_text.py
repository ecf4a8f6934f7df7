# Copyright (c) mmltml contributors. All rights reserved.
"""Run an open_clip text tower on token *embeddings* (prompt learning).

open_clip's ``encode_text`` starts from token ids; prompt learners replace
some token embeddings by learnable vectors, so they need the same tower from
the embedding level on. :func:`encode_text_embeddings` reproduces
``CLIP.encode_text`` exactly (``argmax`` pooling at the end-of-text token,
``ln_final``, ``text_projection``) and can stop the sequence after the
longest end-of-text position: under CLIP's causal mask no token before it
attends to a later one, so the pooled features are unchanged (measured on
open_clip ViT-B-16: 22 of 77 tokens for 16 context tokens + COCO names, the
same features to 2e-6, about 4.8x faster on CPU).
"""
from typing import Optional

import torch
import torch.nn as nn


def eot_positions(tokens: torch.Tensor) -> torch.Tensor:
    """End-of-text index of each tokenised text (open_clip's argmax rule)."""
    return tokens.argmax(dim=-1)


def check_text_tower(clip: nn.Module) -> None:
    """Raise if ``clip`` is not an open_clip model with argmax pooling."""
    pool = getattr(clip, 'text_pool_type', None)
    if pool != 'argmax' or not hasattr(clip, 'token_embedding'):
        raise TypeError(
            'Prompt learning needs an open_clip CLIP text tower with argmax '
            f'(end-of-text) pooling; got text_pool_type={pool!r}.')


def encode_text_embeddings(clip: nn.Module,
                           embeds: torch.Tensor,
                           eot: torch.Tensor,
                           truncate: bool = True,
                           length: Optional[int] = None) -> torch.Tensor:
    """Text features [N, E] of token embeddings ``embeds`` [N, L, W].

    Args:
        clip: an open_clip ``CLIP`` (checked by :func:`check_text_tower`).
        embeds: token embeddings, positional embeddings not yet added.
        eot: end-of-text position of each sequence, shape [N].
        truncate: run only the first ``max(eot) + 1`` positions (exact).
        length: run exactly this many positions instead (must cover every
            ``eot``); lets callers keep shapes static across steps.
    """
    if length is None:
        length = int(eot.max()) + 1 if truncate else embeds.shape[1]
    cast_dtype = clip.transformer.get_cast_dtype()
    x = embeds[:, :length].to(cast_dtype)
    x = x + clip.positional_embedding[:length].to(cast_dtype)
    mask = clip.attn_mask
    if mask is not None:
        mask = mask[:length, :length]
    x = clip.ln_final(clip.transformer(x, attn_mask=mask))
    x = x[torch.arange(x.shape[0], device=x.device), eot]
    projection = clip.text_projection
    if isinstance(projection, nn.Linear):
        return projection(x)
    return x @ projection if projection is not None else x


def cut_words_to_fit(text: str, tokenizer, context_length: Optional[int] = None
                     ) -> str:
    """The longest prefix of the words of ``text`` (split at single spaces)
    whose tokens, with the start- and end-of-text tokens, fit
    ``context_length`` (default: the tokenizer's).

    LM-CLIP's captions are cut this way (official
    ``dataset_loaders/coco_mlt.py:135-155``: fewer and fewer words until
    the tokenizer accepts the text), where open_clip's tokenizer would cut
    the tokens mid-word and end the sequence with an end-of-text token.
    A text that fits is returned unchanged.

    Args:
        text (str): The text.
        tokenizer: An open_clip ``SimpleTokenizer`` (``encode`` gives the
            byte-pair tokens without start and end).
        context_length (int, optional): Tokens available, start and end
            included.
    """
    from open_clip.tokenizer import SimpleTokenizer
    if not isinstance(tokenizer, SimpleTokenizer):
        raise TypeError('cut_words_to_fit needs an open_clip SimpleTokenizer '
                        f'(byte-pair tokens), got {type(tokenizer).__name__}')
    length = context_length or tokenizer.context_length
    words = text.split(' ')
    keep = len(words)
    while keep > 0 and len(tokenizer.encode(' '.join(words[:keep]))) + 2 > \
            length:
        keep -= 1
    return ' '.join(words[:keep])
