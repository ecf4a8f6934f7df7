# Copyright (c) mmltml contributors. All rights reserved.
"""The machinery shared by mmltml's samplers (not registered).

A subclass builds the *global* index sequence of an epoch as a function of
``(seed, epoch)`` only (:meth:`EpochSequenceSampler._global_indices`); this
base makes it distributed-safe as mmengine's ``DefaultSampler`` does: every
rank builds the same sequence, which is padded (``round_up=True``, repeating
its start) or truncated to a multiple of the world size, and rank r takes
the r-th contiguous block. The seed is synchronised across ranks when not
given, and ``DistSamplerSeedHook`` calls :meth:`set_epoch`, so a resumed run
sees the sequence of the uninterrupted one.
"""
import math
from typing import Iterator, List, Optional

from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Dataset, Sampler


def image_cat_ids(dataset: Dataset, sampler: str) -> List[List[int]]:
    """The sorted, distinct class ids of every image of ``dataset``.

    Raises:
        TypeError: If the dataset has no ``get_cat_ids(idx)``, naming
            ``sampler``.
    """
    if not hasattr(dataset, 'get_cat_ids'):
        raise TypeError(f'{type(dataset).__name__} has no get_cat_ids(); '
                        f'{sampler} needs per-image class ids')
    return [
        sorted(set(int(c) for c in dataset.get_cat_ids(idx)))
        for idx in range(len(dataset))
    ]


class EpochSequenceSampler(Sampler):
    """Base of samplers whose epoch is a seeded global sequence, sharded.

    Subclasses call :meth:`_set_epoch_size` once in their constructor and
    implement :meth:`_global_indices`.

    Args:
        dataset (Dataset): The dataset sampled.
        seed (int, optional): Random seed, identical on all ranks; if None a
            seed is drawn and synchronised across ranks.
        round_up (bool): Pad (True) or truncate (False) the sequence to a
            multiple of the world size.
    """

    def __init__(self, dataset: Dataset, seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.round_up = round_up
        self.epoch_size = 0
        self.num_samples = 0
        self.total_size = 0

    def _set_epoch_size(self, epoch_size: int) -> None:
        """Set the global sequence length and this rank's share of it."""
        self.epoch_size = epoch_size
        if self.round_up:
            self.num_samples = math.ceil(epoch_size / self.world_size)
        else:
            self.num_samples = epoch_size // self.world_size
        self.total_size = self.num_samples * self.world_size

    def _global_indices(self) -> List[int]:
        """The epoch's sequence (``epoch_size`` indices), identical on
        every rank: a function of ``(self.seed, self.epoch)`` only."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        """Iterate over this rank's shard of the epoch's sequence."""
        indices = self._global_indices()
        repeats = math.ceil(self.total_size / len(indices))
        indices = (indices * repeats)[:self.total_size]
        start = self.rank * self.num_samples
        return iter(indices[start:start + self.num_samples])

    def __len__(self) -> int:
        """The number of samples of this rank."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch; the sequence is a function of (seed, epoch)."""
        self.epoch = epoch
