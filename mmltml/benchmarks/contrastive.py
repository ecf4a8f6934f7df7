# Copyright (c) mmltml contributors. All rights reserved.
"""Contrastive pre-training of an open_clip ``CLIP`` through mmengine: the
model is a ``BaseModel`` whose ``train_step`` runs the step through an
``OptimWrapper`` (``tools/misc/pretrain_tiny_clip.py``)."""
import math
from typing import Callable, Iterable, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper


def contrastive_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with several positives per row (mean target).

    ``logits[i, j]`` scores image i against caption j; ``mask[i, j]`` says
    whether caption j is true of image i (every row and column needs one).
    """
    target = mask.float()
    image_loss = -(F.log_softmax(logits, 1) * target).sum(1) / target.sum(1)
    text_loss = -(F.log_softmax(logits.t(), 1) * target.t()).sum(1) / \
        target.t().sum(1)
    return (image_loss.mean() + text_loss.mean()) / 2


class ContrastiveCLIP(BaseModel):
    """An open_clip ``CLIP`` trained with :func:`contrastive_loss` on
    batches ``dict(images, tokens, positives)``; ``clip.logit_scale`` is
    clamped to ``[0, log(100)]`` after every step, as in CLIP."""

    def __init__(self, clip: torch.nn.Module) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, images: torch.Tensor, tokens: torch.Tensor,
                positives: torch.Tensor, mode: str = 'loss') -> dict:
        if mode != 'loss':
            raise ValueError(f'ContrastiveCLIP only computes the loss, got '
                             f'mode={mode!r}')
        image, text, scale = self.clip(images, tokens)
        return dict(loss=contrastive_loss(scale * image @ text.t(),
                                          positives))

    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> dict:
        log_vars = super().train_step(data, optim_wrapper)
        with torch.no_grad():
            self.clip.logit_scale.clamp_(0, math.log(100))
        return log_vars


def build_optim_wrapper(
        model: torch.nn.Module, steps: int, lr: float, weight_decay: float,
        warmup: int
) -> Tuple[OptimWrapper, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (no decay on norms, biases, embeddings, logit scale) and its
    per-step schedule: linear warmup over ``warmup`` steps, then cosine
    decay to 0 at ``steps``."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        plain = param.ndim < 2 or 'embedding' in name
        (no_decay if plain else decay).append(param)
    optimizer = torch.optim.AdamW([
        dict(params=decay, weight_decay=weight_decay),
        dict(params=no_decay, weight_decay=0.)
    ], lr=lr, betas=(0.9, 0.98), eps=1e-6)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return OptimWrapper(optimizer), scheduler


def pretrain(model: ContrastiveCLIP, optim_wrapper: OptimWrapper,
             scheduler, batches: Iterable[dict], steps: int,
             after_step: Callable[[int, dict], None]) -> None:
    """``steps`` calls of ``model.train_step`` on ``batches``, the schedule
    stepped after each; ``after_step(step, log_vars)`` (1-based)."""
    model.train()
    for step, batch in zip(range(1, steps + 1), batches):
        log_vars = model.train_step(batch, optim_wrapper)
        scheduler.step()
        after_step(step, log_vars)
