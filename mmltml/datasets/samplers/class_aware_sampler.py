# Copyright (c) mmltml contributors. All rights reserved.
import logging
from typing import Dict, List, Optional

import numpy as np
from mmengine.logging import print_log
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Dataset

from .epoch_sequence_sampler import EpochSequenceSampler, image_cat_ids


class _ShuffledCycle:
    """Endless iterator over ``items`` that reshuffles at every pass."""

    def __init__(self, items: List[int], rng: np.random.Generator):
        self.items = list(items)
        self.rng = rng
        self.order: List[int] = []

    def take(self, n: int) -> List[int]:
        """The next ``n`` items of the cycle."""
        out = []
        while len(out) < n:
            if not self.order:
                self.order = self.rng.permutation(self.items).tolist()
            out.append(self.order.pop())
        return out


@DATA_SAMPLERS.register_module()
class ClassAwareSampler(EpochSequenceSampler):
    """Class-aware sampler for multi-label data (as used with DB-Focal).

    The global sequence of an epoch is built by repeating two steps: pick a
    class uniformly, by walking through a shuffled list of the classes (the
    list is reshuffled after each pass), then take ``num_samples_cls``
    consecutive images from that class's own shuffled cyclic list of images
    (also reshuffled after each pass). An image with several labels is in
    the list of each of its classes. Classes without images are skipped
    (with a warning naming them).

    The epoch has ``floor(max_c n_c * C / reduce)`` samples, where n_c is
    the number of images of class c and C the number of classes with at
    least one image. The sequence depends only on ``(seed, epoch)``; call
    :meth:`set_epoch` to change it. In distributed training every rank
    builds the same global sequence, which is padded (``round_up=True``,
    repeating its start) or truncated (``round_up=False``) to a multiple of
    the world size, as in mmengine's ``DefaultSampler``; rank r then takes
    the r-th contiguous block, so the ranks get disjoint, equally long
    shards and each keeps the groups of ``num_samples_cls`` images of one
    class together.

    Args:
        dataset (Dataset): Any dataset with ``get_cat_ids(idx) -> list[int]``.
        num_samples_cls (int): Images drawn per class pick. Defaults to 3.
        reduce (float): Divisor of the epoch length. Defaults to 4.
        seed (int, optional): Random seed, identical on all ranks; if None a
            seed is drawn and synchronised across ranks. Defaults to None.
        round_up (bool): Pad (True) or truncate (False) the sequence to a
            multiple of the world size. Defaults to True.

    Examples:
        >>> train_dataloader = dict(
        ...     batch_size=32,
        ...     sampler=dict(type='ClassAwareSampler', num_samples_cls=3),
        ...     dataset=dict(type='COCOLTDataset', data_root='data/coco'))
    """

    def __init__(self,
                 dataset: Dataset,
                 num_samples_cls: int = 3,
                 reduce: float = 4,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        if num_samples_cls < 1:
            raise ValueError(f'num_samples_cls must be >= 1, got '
                             f'{num_samples_cls}')
        if reduce <= 0:
            raise ValueError(f'reduce must be > 0, got {reduce}')
        super().__init__(dataset, seed, round_up)
        self.num_samples_cls = num_samples_cls
        self.cls_to_imgs = self._index_classes(dataset)
        if not self.cls_to_imgs:
            raise ValueError('ClassAwareSampler: no image has a label')
        self._warn_unsampled_classes(dataset)
        max_n = max(len(v) for v in self.cls_to_imgs.values())
        epoch_size = int(max_n * len(self.cls_to_imgs) // reduce)
        if epoch_size < 1:
            raise ValueError(f'ClassAwareSampler: empty epoch (max n_c = '
                             f'{max_n}, {len(self.cls_to_imgs)} classes, '
                             f'reduce={reduce})')
        self._set_epoch_size(epoch_size)

    @staticmethod
    def _index_classes(dataset: Dataset) -> Dict[int, List[int]]:
        """Map each class id to the (sorted) indices of its images."""
        cls_to_imgs: Dict[int, List[int]] = {}
        for idx, ids in enumerate(image_cat_ids(dataset,
                                                'ClassAwareSampler')):
            for cls in ids:
                cls_to_imgs.setdefault(cls, []).append(idx)
        return dict(sorted(cls_to_imgs.items()))

    def _warn_unsampled_classes(self, dataset: Dataset) -> None:
        """Name the dataset's classes that have no image (never drawn)."""
        classes = getattr(dataset, 'metainfo', {}).get('classes') or ()
        missing = [f'{i} ({name})' for i, name in enumerate(classes)
                   if i not in self.cls_to_imgs]
        if missing:
            print_log(
                f'ClassAwareSampler: {len(missing)} class(es) have no '
                f'training image and are never sampled: '
                f'{", ".join(missing[:10])}'
                f'{" ..." if len(missing) > 10 else ""}',
                logger='current', level=logging.WARNING)

    def _global_indices(self) -> List[int]:
        """The epoch's sequence, identical on every rank."""
        rng = np.random.default_rng([self.seed, self.epoch])
        classes = _ShuffledCycle(list(self.cls_to_imgs), rng)
        images = {
            cls: _ShuffledCycle(imgs, rng)
            for cls, imgs in self.cls_to_imgs.items()
        }
        indices: List[int] = []
        while len(indices) < self.epoch_size:
            cls = classes.take(1)[0]
            indices.extend(images[cls].take(self.num_samples_cls))
        return indices[:self.epoch_size]
