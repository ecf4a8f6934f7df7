# Copyright (c) mmltml contributors. All rights reserved.
"""The visual-semantic interaction (VSI) block of CPRFL."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class VSIBlock(nn.Module):
    r"""One pre-norm Transformer layer as CPRFL's VSI network computes it.

    For the tokens :math:`Z = [F; P]` (visual tokens, then class prompts) the
    official code computes, **without residual connections** (CPRFL paper
    Eqs. 3-5, which also omit them, plus the LayerNorms and the attention
    output projection that the code has):

    .. math::
        \bar{Z} = \mathrm{Dropout}(W_o\,\mathrm{MHA}(\mathrm{LN}_1(Z)))

        Z' = \mathrm{FFN}(\mathrm{LN}_2(\bar{Z}))

    with multi-head attention of ``num_heads`` heads of width ``head_dims``
    (inner width ``num_heads * head_dims``, queries/keys/values from one
    bias-free linear layer), logits scaled by ``head_dims ** -0.5``, softmax
    over all tokens (no mask, no positional encoding, no attention dropout)
    and ``FFN = Linear - GELU - Dropout - Linear - Dropout``.

    Every token is updated independently given the keys and values, so with
    one layer the outputs of the last ``num_queries`` tokens can be computed
    from those tokens as queries only (keys/values still from all tokens).
    This is exact and cheaper than running all tokens as queries.

    Args:
        embed_dims (int): Token width d.
        num_heads (int): Number of attention heads. Defaults to 8.
        head_dims (int): Width of one head. Defaults to 512.
        mlp_dims (int): Hidden width of the FFN. Defaults to 2048.
        dropout (float): Dropout after the attention output projection and
            in the FFN. Defaults to 0.1.
        residual (bool): Add the standard pre-norm residual connections
            (``x + attn(LN1(x))``, ``x + FFN(LN2(x))``) that the official code
            removed. Defaults to False.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 head_dims: int = 512,
                 mlp_dims: int = 2048,
                 dropout: float = 0.1,
                 residual: bool = False) -> None:
        super().__init__()
        inner_dims = num_heads * head_dims
        self.num_heads = num_heads
        self.head_dims = head_dims
        self.residual = residual
        self.norm1 = nn.LayerNorm(embed_dims)
        self.to_qkv = nn.Linear(embed_dims, 3 * inner_dims, bias=False)
        self.to_out = nn.Sequential(
            nn.Linear(inner_dims, embed_dims), nn.Dropout(dropout))
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, mlp_dims), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(mlp_dims, embed_dims), nn.Dropout(dropout))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, heads * head_dims] -> [B, heads, N, head_dims]."""
        return x.unflatten(-1,
                           (self.num_heads, self.head_dims)).transpose(1, 2)

    def _attention(self, normed: torch.Tensor,
                   num_queries: int) -> torch.Tensor:
        """Multi-head attention of the last ``num_queries`` tokens."""
        w_q, w_kv = self.to_qkv.weight.split(
            [self.to_qkv.out_features // 3, self.to_qkv.out_features * 2 // 3])
        q = F.linear(normed[:, normed.size(1) - num_queries:], w_q)
        k, v = F.linear(normed, w_kv).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(
            self._split_heads(q),
            self._split_heads(k),
            self._split_heads(v),
            scale=self.head_dims**-0.5)
        return self.to_out(out.transpose(1, 2).flatten(2))

    def forward(self,
                tokens: torch.Tensor,
                num_queries: Optional[int] = None) -> torch.Tensor:
        """Update the tokens.

        Args:
            tokens (Tensor): Tokens of shape ``[B, N, embed_dims]``.
            num_queries (int, optional): Only compute the outputs of the last
                ``num_queries`` tokens. Defaults to all ``N`` tokens.

        Returns:
            Tensor: Shape ``[B, num_queries, embed_dims]``.
        """
        num_queries = tokens.size(1) if num_queries is None else num_queries
        x = self._attention(self.norm1(tokens), num_queries)
        if self.residual:
            x = x + tokens[:, tokens.size(1) - num_queries:]
        out = self.ffn(self.norm2(x))
        return out + x if self.residual else out
