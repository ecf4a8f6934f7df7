# Copyright (c) mmltml contributors. All rights reserved.
"""Text features of many prompts with memory independent of their number.

Prompt tuning runs the text tower forward and backward over every class
prompt at every step, and autograd keeps each layer's activations for each
prompt: 8 to 11 MiB per class for open_clip ViT-B/16 (22 tokens; 18 GiB
at 2,000 classes, docs/benchmarks.md), so 10,000 classes would need
about 80 GiB or more. :func:`chunked_encode` computes the
same features and the same gradients with the memory of one chunk
(the gradient-cache technique of Gao et al., "Scaling Deep Contrastive
Learning Batch Size under Memory Limited Setup", 2021):

1. forward: the rows (prompts) are encoded ``chunk_size`` at a time without
   autograd and only the features ``[N, E]`` are kept (the first chunk
   with autograd, its graph kept: it is not run twice);
2. the loss and its gradient with respect to the features are computed as
   usual by the caller's graph;
3. backward: each other chunk is encoded again, now with autograd, and
   each chunk's slice of the feature gradient is back-propagated through
   it to the chunk's rows and to the shared tensors (``params``).

All of it is one ``torch.autograd.Function``, so ``loss.backward()``,
mmengine's ``OptimWrapper`` / ``AmpOptimWrapper``, gradient accumulation and
DDP (whose hooks fire on the parameters' gradients, produced by the usual
accumulation) work unchanged. The recomputation runs under the autocast
state of the forward and, as ``torch.utils.checkpoint`` does, with the
random state of the forward restored (dropout draws the same masks) and the
caller's random state left untouched. The cost is one more forward pass of
the text tower over all chunks but the first; a frozen tower's backward
pass computes no weight gradients and costs about one forward pass, so
the text time of a step grows by up to half.

Every tensor that ``encode`` reads and that needs a gradient must be passed,
as a row (sliced per chunk) or in ``params`` (whole); the backward pass
checks the recomputed graph and refuses a missing one instead of dropping
its gradient.
"""
import contextlib
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import get_device_states, set_device_states

#: ``encode(*row_chunks) -> features [n, E]`` of the rows' chunk.
ChunkEncoder = Callable[..., torch.Tensor]

#: Saved activations per chunk that :func:`auto_chunk_size` aims at.
AUTO_CHUNK_BYTES = 2 * 2**30
#: Values autograd keeps per position, layer and channel of a CLIP text
#: transformer block (MLP ratio 4), measured on open_clip ViT-B/16 (12
#: layers of width 512, 22 positions): 10.8 MiB per prompt, 21 fp32 values.
SAVED_VALUES_PER_CHANNEL = 21


def auto_chunk_size(layers: int,
                    width: int,
                    positions: int,
                    element_size: int = 4,
                    budget: int = AUTO_CHUNK_BYTES) -> int:
    """Rows per chunk whose saved activations (estimated with
    :data:`SAVED_VALUES_PER_CHANNEL`) fit in ``budget`` bytes, at least
    1: the rows a text tower of ``layers`` blocks of ``width`` channels
    can run with autograd over ``positions`` tokens at once. Fewer rows
    than that are best run in one piece (no recomputation): for
    open_clip ViT-B/16 at 22 positions (fp32) 189, for the tiny CLIP of
    the synthetic benchmark (2 layers of width 128) about 7,000."""
    per_row = layers * positions * width * SAVED_VALUES_PER_CHANNEL * \
        element_size
    return max(1, budget // per_row)


def chunked_encode(encode: ChunkEncoder,
                   rows: Sequence[torch.Tensor],
                   chunk_size: int,
                   params: Sequence[torch.Tensor] = (),
                   preserve_rng_state: bool = True) -> torch.Tensor:
    """``cat([encode(*(r[i:i + chunk_size] for r in rows)) ...])``: the
    features [N, E] of N rows, with exact gradients and the activation
    memory of one chunk.

    Args:
        encode: maps the chunks of ``rows`` (same order) to their features
            ``[n, E]``; it must not depend on which chunk it is given
            other than through its arguments.
        rows: tensors whose first dimension is N (e.g. class-specific
            context [N, M, W], token ids [N, L], end-of-text positions [N],
            or whole prompt embeddings [N, L, W]); sliced per chunk. Float
            rows that require grad get their gradient, written chunk by
            chunk.
        chunk_size: rows per chunk (> 0).
        params: tensors ``encode`` reads by closure that may need a
            gradient (shared context [M, W], the weights of an unfrozen
            text tower); their gradients are summed over the chunks.
        preserve_rng_state: restore the forward's random state for the
            recomputation (needed only if ``encode`` draws random numbers,
            e.g. dropout in train mode).

    Returns:
        The features [N, E], in ``encode``'s output dtype.
    """
    if chunk_size <= 0:
        raise ValueError(f'chunk_size must be positive, got {chunk_size}')
    if not rows:
        raise ValueError('chunked_encode needs at least one row tensor')
    num = rows[0].shape[0]
    if any(r.shape[0] != num for r in rows):
        raise ValueError('every row tensor needs the same first dimension, '
                         f'got {[tuple(r.shape) for r in rows]}')
    differentiable = torch.is_grad_enabled() and any(
        t.requires_grad for t in (*rows, *params))
    return _ChunkedEncode.apply(encode, chunk_size, len(rows),
                                preserve_rng_state, differentiable, *rows,
                                *params)


def _chunks(num: int, size: int) -> List[slice]:
    return [slice(i, min(i + size, num)) for i in range(0, num, size)]


def _autocast_states(tensors: Sequence[torch.Tensor]) -> List[dict]:
    """The autocast settings of the CPU and of the tensors' devices now."""
    device_types = {'cpu'} | {t.device.type for t in tensors}
    return [
        dict(device_type=device,
             enabled=torch.is_autocast_enabled(device),
             dtype=torch.get_autocast_dtype(device),
             cache_enabled=torch.is_autocast_cache_enabled())
        for device in sorted(device_types)
    ]


class _RandomState:
    """The CPU and device random states of a forward pass."""

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self.cpu = torch.get_rng_state()
        self.device_type = next(
            (t.device.type for t in tensors if t.device.type != 'cpu'),
            'cuda')
        self.devices, self.states = get_device_states(*tensors)

    @contextlib.contextmanager
    def restored(self) -> Iterator[None]:
        """Run with this random state; the caller's is left untouched."""
        with torch.random.fork_rng(devices=self.devices,
                                   device_type=self.device_type):
            torch.set_rng_state(self.cpu)
            set_device_states(self.devices, self.states,
                              device_type=self.device_type)
            yield


class _ChunkedEncode(torch.autograd.Function):
    """Forward without activations, backward by recomputation per chunk."""

    @staticmethod
    def forward(ctx, encode: ChunkEncoder, chunk_size: int, num_rows: int,
                preserve_rng_state: bool, differentiable: bool,
                *tensors: torch.Tensor) -> torch.Tensor:
        rows, params = tensors[:num_rows], tensors[num_rows:]
        ctx.encode, ctx.chunk_size, ctx.num_rows = encode, chunk_size, \
            num_rows
        ctx.autocast = _autocast_states(tensors)
        ctx.save_for_backward(*tensors)
        chunks = _chunks(rows[0].shape[0], chunk_size)
        feats, ctx.first = [], None
        if differentiable:  # the first chunk's graph is kept for backward
            needs = ctx.needs_input_grad[5:]
            with torch.enable_grad():
                leaves = _leaves(rows, chunks[0], needs[:num_rows])
                first = encode(*leaves)
            _check_graph_leaves(first, _inputs(leaves, params, needs))
            ctx.first = (first, leaves)
            feats.append(first.detach())
        # the random state the recomputation starts from
        ctx.random = _RandomState(tensors) if preserve_rng_state else None
        with torch.no_grad():  # (already off inside a Function's forward)
            feats += [encode(*(r[s] for r in rows))
                      for s in chunks[len(feats):]]
        return torch.cat(feats)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_feats: torch.Tensor) -> Tuple[Optional[
            torch.Tensor], ...]:
        tensors = ctx.saved_tensors
        rows, params = tensors[:ctx.num_rows], tensors[ctx.num_rows:]
        needs = ctx.needs_input_grad[5:]
        row_needs, param_needs = needs[:ctx.num_rows], needs[ctx.num_rows:]
        row_grads = [torch.empty_like(r) if n else None
                     for r, n in zip(rows, row_needs)]
        param_grads: List[Optional[torch.Tensor]] = [None] * len(params)

        def backprop(s: slice, feats: torch.Tensor,
                     leaves: List[torch.Tensor]) -> None:
            grads = list(torch.autograd.grad(
                feats, _inputs(leaves, params, needs), grad_feats[s],
                allow_unused=True))
            for i, n in enumerate(row_needs):
                if n:
                    grad = grads.pop(0)
                    row_grads[i][s] = 0 if grad is None else grad
            _accumulate(param_grads, param_needs, grads)

        chunks = _chunks(rows[0].shape[0], ctx.chunk_size)
        first, ctx.first = ctx.first, None
        if first is not None:
            backprop(chunks[0], *first)
            chunks = chunks[1:]
            del first  # its activations
        with _recomputation(ctx):
            for s in chunks:
                leaves = _leaves(rows, s, row_needs)
                backprop(s, ctx.encode(*leaves), leaves)
        return (None, ) * 5 + (*row_grads, *param_grads)


def _leaves(rows: Sequence[torch.Tensor], s: slice,
            needs: Sequence[bool]) -> List[torch.Tensor]:
    """Chunk ``s`` of each row, as a leaf that requires grad if needed."""
    return [r[s].detach().requires_grad_(n) for r, n in zip(rows, needs)]


def _inputs(leaves: Sequence[torch.Tensor], params: Sequence[torch.Tensor],
            needs: Sequence[bool]) -> List[torch.Tensor]:
    """The tensors a chunk's gradient is taken for: its row leaves, then
    the params (``needs``: rows' flags, then params')."""
    row_needs, param_needs = needs[:len(leaves)], needs[len(leaves):]
    return [x for x, n in zip(leaves, row_needs) if n] + [
        p for p, n in zip(params, param_needs) if n]


@contextlib.contextmanager
def _recomputation(ctx) -> Iterator[None]:
    """Autograd on, the forward's autocast and random states restored."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.enable_grad())
        for state in ctx.autocast:
            stack.enter_context(torch.autocast(**state))
        if ctx.random is not None:
            stack.enter_context(ctx.random.restored())
        yield


def _accumulate(param_grads: List[Optional[torch.Tensor]],
                param_needs: Sequence[bool],
                grads: List[Optional[torch.Tensor]]) -> None:
    """Add one chunk's parameter gradients (in ``param_needs`` order)."""
    for i, n in enumerate(param_needs):
        if not n:
            continue
        grad = grads.pop(0)
        if grad is None:
            continue
        if param_grads[i] is None:
            param_grads[i] = grad
        else:
            param_grads[i] += grad


def _check_graph_leaves(feats: torch.Tensor,
                        inputs: Sequence[torch.Tensor]) -> None:
    """Refuse a recomputed graph that reaches a tensor needing a gradient
    that is neither a row nor in ``params``: its gradient would be lost."""
    known = {id(x) for x in inputs}
    seen, stack = set(), [feats.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if node.name() == 'torch::autograd::AccumulateGrad' and \
                id(node.variable) not in known:
            variable = node.variable
            raise RuntimeError(
                'chunked_encode: encode reads a tensor that requires grad '
                f'(shape {tuple(variable.shape)}) but is neither a row nor '
                'in params; its gradient would be lost. Pass it in params '
                '(or as a row).')
        stack.extend(next_node for next_node, _ in node.next_functions)
