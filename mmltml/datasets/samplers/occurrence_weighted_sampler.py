# Copyright (c) mmltml contributors. All rights reserved.
from typing import List, Optional

import numpy as np
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Dataset

from .epoch_sequence_sampler import EpochSequenceSampler, image_cat_ids


def occurrence_weights(cat_ids: List[List[int]],
                       power: float) -> np.ndarray:
    r"""LM-CLIP's sample weights :math:`r_i = (\sum_{c \in Y_i} N / n_c)^s
    / \max_j (\cdot)`.

    Args:
        cat_ids (list[list[int]]): The distinct class ids of each image.
        power (float): :math:`s`.

    Returns:
        np.ndarray: float64 weights in [0, 1], shape (N,); 0 for an image
        without labels when ``power > 0`` (all 0 if no image has one).
    """
    num_images = len(cat_ids)
    num_classes = 1 + max((max(ids) for ids in cat_ids if ids), default=-1)
    counts = np.zeros(num_classes)
    for ids in cat_ids:
        counts[ids] += 1
    inv = num_images / np.maximum(counts, 1)
    raw = np.array([inv[ids].sum() for ids in cat_ids])**power
    top = raw.max(initial=0.0)
    return raw / top if top > 0 else raw


@DATA_SAMPLERS.register_module()
class OccurrenceWeightedSampler(EpochSequenceSampler):
    r"""LM-CLIP's occurrence-based sampler (weighted sampling of images).

    LM-CLIP (Timmermann et al., IEEE Access 2025; official
    ``dataset_loaders/coco_mlt.py:179-198, 311-329``) draws images with
    replacement, with probability proportional to

    .. math::

        r_i = \Big(\sum_{c \in Y_i} \frac{N}{n_c}\Big)^{s}
              \Big/ \max_j \Big(\sum_{c \in Y_j} \frac{N}{n_c}\Big)^{s},

    where :math:`Y_i` are the labels of image i, :math:`n_c` the number of
    images of class c in the sampled (training) set and :math:`N` its size:
    the power applies to the *sum* of the raw inverse frequencies. An epoch
    has ``num_samples`` draws (default N, as the official
    ``WeightedRandomSampler(r, N, replacement=True)``). Images that contain
    rare classes are drawn more, but because they also contain frequent
    classes ("person"), the most frequent class is seen *more* often than
    under uniform sampling; this is not the DB paper's class-aware sampler.

    The sequence depends only on ``(seed, epoch)`` (numpy's generator
    seeded with both; the official sampler uses torch's global generator,
    unseeded), and is sharded across ranks as in :class:`ClassAwareSampler`
    (see :class:`~mmltml.datasets.samplers.epoch_sequence_sampler.
    EpochSequenceSampler`). Images without labels get weight 0 (never
    drawn) for ``power > 0``. The abstract's "dynamic sampling strategy" is
    this static weighting (nothing changes over training in the code).

    Args:
        dataset (Dataset): Any dataset with ``get_cat_ids(idx) -> list[int]``.
        power (float): :math:`s` (official configs: 0.7 VOC-LT RN50, 1.35
            VOC-LT ViT-B/16 and COCO-LT RN50, 1.6 COCO-LT ViT-B/16).
        num_samples (int, optional): Draws per epoch; None: the dataset
            size.
        replacement (bool): Draw with replacement (official). Defaults to
            True.
        seed (int, optional): Random seed, identical on all ranks; if None a
            seed is drawn and synchronised across ranks. Defaults to None.
        round_up (bool): Pad (True) or truncate (False) the sequence to a
            multiple of the world size. Defaults to True.

    Examples:
        >>> train_dataloader = dict(
        ...     batch_size=8,
        ...     sampler=dict(type='OccurrenceWeightedSampler', power=1.6),
        ...     dataset=dict(type='COCOLTDataset', data_root='data/coco'))
    """

    def __init__(self,
                 dataset: Dataset,
                 power: float,
                 num_samples: Optional[int] = None,
                 replacement: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        if power < 0:
            raise ValueError(f'power must be >= 0, got {power}')
        super().__init__(dataset, seed, round_up)
        self.power = power
        self.replacement = replacement
        weights = occurrence_weights(
            image_cat_ids(dataset, 'OccurrenceWeightedSampler'), power)
        if not np.any(weights > 0):
            raise ValueError('OccurrenceWeightedSampler: no image has a '
                             'label')
        self.probs = weights / weights.sum()
        epoch_size = len(dataset) if num_samples is None else num_samples
        drawable = int(np.count_nonzero(self.probs))
        if epoch_size < 1 or (not replacement and epoch_size > drawable):
            raise ValueError(
                f'OccurrenceWeightedSampler: num_samples={epoch_size} must '
                f'be >= 1' + ('' if replacement else
                              f' and <= {drawable} labelled images without '
                              'replacement'))
        self._set_epoch_size(epoch_size)

    def _global_indices(self) -> List[int]:
        """The epoch's draws, identical on every rank."""
        rng = np.random.default_rng([self.seed, self.epoch])
        return rng.choice(len(self.probs), size=self.epoch_size,
                          replace=self.replacement, p=self.probs).tolist()
