# Copyright (c) mmltml contributors. All rights reserved.
"""A synthetic training batch for a CLIP-prompt model: random uint8 images,
long-tailed multi-hot labels and COCO-LT-like captions."""
from typing import List, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

CAPTION_WORDS = ('a', 'the', 'of', 'on', 'with', 'next', 'to', 'in',
                 'small', 'large', 'white', 'red', 'sitting', 'standing',
                 'near', 'table', 'street', 'room', 'man', 'woman')


def image_size(cfg: Config) -> int:
    """Side of the training images: the first ``Resize`` or
    ``RandomResizedCrop`` scale of the training pipeline (else 224)."""
    for transform in cfg.get('train_pipeline', []):
        if transform.get('type') in ('Resize', 'RandomResizedCrop'):
            scale = transform.get('scale')
            return int(scale[0] if isinstance(scale, (list, tuple))
                       else scale)
    return 224


def synthetic_labels(rng: np.random.Generator, num: int,
                     freq: Sequence[int]) -> List[List[int]]:
    """Multi-hot label sets drawn in proportion to the class counts
    (1 + Poisson(1.9) labels per image, COCO-LT's mean of about 2.9)."""
    prob = np.asarray(freq, dtype=np.float64)
    prob /= prob.sum()
    labels = []
    for _ in range(num):
        k = min(len(freq), 1 + rng.poisson(1.9))
        labels.append(sorted(rng.choice(len(freq), k, replace=False,
                                        p=prob).tolist()))
    return labels


def synthetic_caption(rng: np.random.Generator, names: Sequence[str],
                      labels: Sequence[int]) -> str:
    """Five joined sentences, like a COCO-LT caption line (> 77 tokens)."""
    sentences = []
    for _ in range(5):
        words = rng.choice(CAPTION_WORDS, 8).tolist()
        name = names[labels[rng.integers(len(labels))]]
        sentences.append(' '.join(words[:4] + [name] + words[4:]) + '.')
    return ' '.join(sentences)


def make_batch(class_names: Sequence[str], num: int, size: int,
               freq: Sequence[int], seed: int) -> dict:
    """A collated batch: uint8 images [B, 3, S, S] and data samples with
    labels and captions."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (num, 3, size, size), dtype=torch.uint8,
                           generator=generator)
    samples = []
    for labels in synthetic_labels(rng, num, freq):
        sample = DataSample().set_gt_label(labels)
        sample.set_field(synthetic_caption(rng, class_names, labels),
                         'caption', field_type='metainfo')
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)
