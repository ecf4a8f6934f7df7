# Copyright (c) mmltml contributors. All rights reserved.
"""Helpers shared by the mmltml losses (no registered classes here).

- precision: every loss computes in float32 (float64 inputs stay float64, so
  ``torch.autograd.gradcheck`` applies), with autocast disabled inside;
- class statistics: ``class_freq`` / ``train_num`` given as numbers or
  through :func:`mmltml.datasets.load_class_stats`;
- reduction: mmpretrain's ``weight`` / ``avg_factor`` / ``reduction``
  conventions on an element-wise loss.
"""
from contextlib import nullcontext
from typing import ContextManager, List, Optional, Sequence, Tuple, Union

import torch
from mmpretrain.models.losses.utils import weight_reduce_loss

from mmltml.datasets import load_class_stats
from mmltml.structures.class_dependent import ClassField

REDUCTIONS = ('none', 'mean', 'sum')

ClassFreq = Union[Sequence[int], torch.Tensor]


def compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    """float32 for half / bfloat16 / float32 / integer inputs, float64 kept."""
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def autocast_off(device: torch.device) -> ContextManager:
    """Disable autocast on ``device`` so the loss really runs in fp32."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return nullcontext()


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is one of mmpretrain's, else raise."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got '
                         f'{reduction!r}')
    return reduction


def resolve_class_stats(
    class_freq: Optional[ClassFreq] = None,
    train_num: Optional[int] = None,
    class_stats: Optional[Union[str, dict]] = None,
) -> Tuple[Optional[torch.Tensor], Optional[int]]:
    """Return ``(class_freq as an int64 tensor, train_num)``.

    Numbers and sources alike are read and checked by the one loader,
    :func:`mmltml.datasets.load_class_stats`.

    Args:
        class_freq: n_i, the number of training images containing class i.
        train_num: N, the number of training images.
        class_stats: Any source accepted by
            :func:`mmltml.datasets.load_class_stats` (a dict with
            ``class_freq``, a ``.json`` path or
            ``dict(ann_file=..., label_file=...)``); its ``class_freq`` and
            ``num_images`` are used. Exclusive with ``class_freq`` /
            ``train_num``.

    Returns:
        tuple: ``(None, None)`` when nothing is given.
    """
    if class_stats is not None:
        if class_freq is not None or train_num is not None:
            raise ValueError('give class statistics either as class_stats or '
                             'as class_freq/train_num, not both')
        source = class_stats
    elif class_freq is not None:
        if isinstance(class_freq, torch.Tensor):
            class_freq = class_freq.tolist()
        source = dict(class_freq=class_freq, num_images=train_num)
    elif train_num is not None:
        raise ValueError('train_num was given without class_freq')
    else:
        return None, None
    stats = load_class_stats(source)
    return (torch.tensor(stats['class_freq'], dtype=torch.int64),
            stats['num_images'])


def class_stats_fields(class_freq: Optional[torch.Tensor],
                       num_images: Optional[int]) -> List[ClassField]:
    """The class-dependent field of a loss holding training statistics
    (:class:`~mmltml.structures.ClassDependent`)."""
    if class_freq is None:
        return []
    return [
        ClassField('class_freq', class_freq.numel(), 'class statistics',
                   num_images)
    ]


def require_positive_counts(class_freq: torch.Tensor, what: str) -> None:
    """Raise if a class has no training image (its 1/n_i would be inf)."""
    zero = torch.nonzero(class_freq == 0).flatten().tolist()
    if zero:
        raise ValueError(
            f'{what} needs n_i >= 1 for every class, but classes {zero} have '
            'no training image. Drop these classes from the label space or '
            'give them a count of at least 1.')


def reduce_elementwise(loss: torch.Tensor,
                       weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None) -> torch.Tensor:
    """Apply mmpretrain's ``weight`` and reduce an element-wise [B, C] loss.

    ``weight`` is per sample, shape (B,), or per element, shape (B, C); it is
    multiplied into the element losses. With ``avg_factor`` given and
    ``reduction='mean'`` the result is ``sum / avg_factor`` (mmpretrain's
    :func:`weight_reduce_loss`), otherwise ``mean`` is over all elements.
    """
    if weight is not None:
        weight = weight.to(loss)  # its dtype and device
        if weight.dim() == 1 and loss.dim() == 2:
            if weight.numel() != loss.size(0):
                raise ValueError(f'a 1-D weight must have one entry per '
                                 f'sample ({loss.size(0)}), got '
                                 f'{weight.numel()}')
            weight = weight.reshape(-1, 1)
        elif weight.shape != loss.shape:
            raise ValueError(f'weight must have shape (B,) or '
                             f'{tuple(loss.shape)}, got {tuple(weight.shape)}')
    return weight_reduce_loss(loss, weight, reduction, avg_factor)
