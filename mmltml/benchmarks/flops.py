# Copyright (c) mmltml contributors. All rights reserved.
"""Floating-point operations of a training step, per stage, and of an
epoch extrapolated from them.

Counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products,
convolutions and attention, forward and backward) with torch's own
per-op formulas. Two attention kernels have no registered formula and are
mapped here onto torch's formulas (:data:`EXTRA_FLOP_FORMULAS`).
"""
from contextlib import contextmanager
from typing import Dict, Iterator

import torch
from torch.utils import flop_counter

from .step_timing import PATHS, STAGES, StageMeter


def _cpu_attention_flops(query, key, value, *args, out_shape=None,
                         **kwargs) -> int:
    """The CPU flash-attention kernel: torch's SDPA formula (torch
    registers it for the CUDA kernels only)."""
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_attention_backward_flops(grad, query, key, value, *args,
                                  out_shape=None, **kwargs) -> int:
    """Backward of the CPU flash-attention kernel: torch's SDPA backward
    formula."""
    return flop_counter.sdpa_backward_flop_count(grad, query, key, value)


def _fused_attention_block_flops(query, key, value, embed_dim, num_heads,
                                 *args, out_shape=None, **kwargs) -> int:
    """``nn.MultiheadAttention``'s fused inference kernel (the frozen
    towers under ``no_grad``), which torch does not count: the products of
    its unfused decomposition, each by torch's own formula (Q/K/V and
    output projections, then attention over ``num_heads`` heads)."""
    batch, len_q, width = query
    len_k = key[1]
    weight = (width, width)
    projections = 2 * flop_counter.mm_flop((batch * len_q, width), weight) \
        + 2 * flop_counter.mm_flop((batch * len_k, width), weight)
    head = width // num_heads
    attention = flop_counter.sdpa_flop_count(
        (batch, num_heads, len_q, head), (batch, num_heads, len_k, head),
        (batch, num_heads, len_k, head))
    return projections + attention


#: Kernels torch's counter does not know (those a torch build lacks are
#: skipped).
EXTRA_FLOP_FORMULAS = {
    getattr(torch.ops.aten, name): formula
    for name, formula in (
        ('_scaled_dot_product_flash_attention_for_cpu', _cpu_attention_flops),
        ('_scaled_dot_product_flash_attention_for_cpu_backward',
         _cpu_attention_backward_flops),
        ('_native_multi_head_attention', _fused_attention_block_flops),
    ) if hasattr(torch.ops.aten, name)
}


class StageFlops(StageMeter):
    """FLOPs per named stage (the :class:`StageMeter` interface): a
    ``FlopCounterMode`` is open while the outermost stage is, and each
    interval's count goes to the innermost open stage."""

    def __init__(self) -> None:
        self._mode = None
        super().__init__(lambda: self._mode.get_total_flops()
                         if self._mode is not None else 0)

    @property
    def flops(self) -> Dict[str, int]:
        return {k: int(v) for k, v in self.totals.items()}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self._mode is not None:  # nested: the open counter counts
            with super().__call__(name):
                yield
            return
        self._mode = flop_counter.FlopCounterMode(
            display=False, custom_mapping=EXTRA_FLOP_FORMULAS)
        try:
            with self._mode, super().__call__(name):
                yield
        finally:
            self._mode = None


def packed_token_fraction(model) -> float:
    """Prompt tokens up to each prompt's own end-of-text over the tokens the
    truncated text tower runs (all prompts up to the longest one)."""
    eot = model.backbone.prompt_learner.eot
    return float((eot + 1).sum()) / (len(eot) * (int(eot.max()) + 1))


def epoch_flops(flops: Dict[str, Dict[str, int]], batch_size: int,
                num_images: int, num_steps: int,
                packed_fraction: float) -> dict:
    """An epoch of ``num_images`` images in ``num_steps`` steps, in FLOPs
    counted over one step of ``batch_size`` images per path: the image
    stage scales with the images, the other stages with the steps.

    Their ratio is what the cached path can gain at equal throughput per
    FLOP: a cached step still runs the text tower over every class prompt,
    forward and backward. ``packed_ceiling`` is the ratio if, in
    addition, each prompt ran only to its own end-of-text token (cached
    cost scaled by ``packed_fraction``: an upper bound).
    """
    epoch = {
        p: num_images * flops[p]['image'] / batch_size +
        num_steps * sum(flops[p].get(k, 0) for k in STAGES[1:])
        for p in PATHS
    }
    ratio = epoch['plain'] / epoch['optimised']
    return dict(
        method='torch.utils.flop_counter.FlopCounterMode over one step '
        'per path (matrix products and attention, forward and backward)',
        step_flops=flops, uncached_epoch_tflop=epoch['plain'] / 1e12,
        cached_epoch_tflop=epoch['optimised'] / 1e12, epoch_flop_ratio=ratio,
        packed_token_fraction=packed_fraction,
        packed_ceiling=ratio / packed_fraction)
