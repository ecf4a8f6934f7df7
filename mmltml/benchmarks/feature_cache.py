# Copyright (c) mmltml contributors. All rights reserved.
"""Everything the training benchmark knows about the image-feature cache:
how cached features are computed, how a batch of them looks, and how a
config switches the cache off.

Kept in one module so that a change of the cache's interface
(``CachedFeatureDataset``, ``FeatureCacheHook``) is adapted here only.
"""
import copy
from typing import List, Sequence

import torch
from mmengine.config import Config

from mmltml.structures.frozen_image_encoder import IMAGE_FEATS

#: The dataloaders whose dataset may be wrapped in the cache.
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def encode_images(model, images: torch.Tensor, chunk: int) -> torch.Tensor:
    """Cached features of ``images`` as :class:`FeatureCacheHook` computes
    them: with the encoder the model offers for caching
    (``model.frozen_image_encoder``), in chunks of ``chunk`` images."""
    encoder = model.frozen_image_encoder(training=False)
    if encoder is None:
        raise ValueError(f'{type(model).__name__} offers no frozen image '
                         'encoder: its image features cannot be cached.')
    return torch.cat([
        encoder.encode(dict(inputs=images[start:start + chunk])).cpu()
        for start in range(0, len(images), chunk)
    ])


def feature_batch(feats: torch.Tensor, data_samples: Sequence) -> dict:
    """A collated batch of cached image features, as
    ``CachedFeatureDataset`` serves it (the samples are copied)."""
    samples: List = [copy.deepcopy(s) for s in data_samples]
    return dict(inputs={IMAGE_FEATS: feats}, data_samples=samples)


def cached_batch(model, batch: dict, chunk: int) -> dict:
    """``batch`` with its images replaced by their cached features."""
    return feature_batch(encode_images(model, batch['inputs'], chunk),
                         batch['data_samples'])


def feature_dim(batch: dict) -> int:
    """Width of the features of a :func:`feature_batch`."""
    return int(batch['inputs'][IMAGE_FEATS].shape[1])


def reference_config(cfg: Config) -> Config:
    """The config without mmltml's optimisations: the feature cache of
    every dataloader is switched off (``enable=False``: the wrapper serves
    the images, flipped by the same seeded draws as the cached features),
    so the frozen image encoder runs on every batch, and the text tower
    runs on all context positions. The caption cache of the CSE loss stays
    on."""
    cfg = copy.deepcopy(cfg)
    for name in LOADERS:
        loader = cfg.get(name)
        if loader and loader.dataset.get('type') == 'CachedFeatureDataset':
            loader.dataset.enable = False
    cfg.model.backbone.truncate_text = False
    return cfg
