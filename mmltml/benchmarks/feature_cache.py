# Copyright (c) mmltml contributors. All rights reserved.
"""Everything the training benchmark knows about the image-feature cache:
how cached features are computed, how a batch of them looks, and how a
config is stripped of the cache.

Kept in one module so that a change of the cache's interface
(``CachedFeatureDataset``, ``FeatureCacheHook``) is adapted here only.
"""
import copy
from typing import List, Sequence

import torch
from mmengine.config import Config

#: The dataloaders whose dataset may be wrapped in the cache.
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@torch.no_grad()
def encode_images(model, images: torch.Tensor, chunk: int) -> torch.Tensor:
    """Cached features of ``images`` as :class:`FeatureCacheHook` computes
    them: eval mode, the model's data preprocessor, ``encode_image``, in
    chunks of ``chunk`` images."""
    was_training = model.training
    model.eval()
    feats = []
    for start in range(0, len(images), chunk):
        data = model.data_preprocessor(
            dict(inputs=images[start:start + chunk]), False)
        feats.append(model.backbone.encode_image(data['inputs']).cpu())
    model.train(was_training)
    return torch.cat(feats)


def feature_batch(feats: torch.Tensor, data_samples: Sequence) -> dict:
    """A collated batch of cached image features, as
    ``CachedFeatureDataset`` serves it (the samples are copied)."""
    samples: List = [copy.deepcopy(s) for s in data_samples]
    return dict(inputs=feats, data_samples=samples)


def cached_batch(model, batch: dict, chunk: int) -> dict:
    """``batch`` with its images replaced by their cached features."""
    return feature_batch(encode_images(model, batch['inputs'], chunk),
                         batch['data_samples'])


def feature_dim(batch: dict) -> int:
    """Width of the features of a :func:`feature_batch`."""
    return int(batch['inputs'].shape[1])


def reference_config(cfg: Config) -> Config:
    """The config without mmltml's optimisations: the feature cache is
    unwrapped from every dataloader (its hook removed), so the frozen image
    encoder runs on every batch, and the text tower runs on all context
    positions. The caption cache of the CSE loss stays on."""
    cfg = copy.deepcopy(cfg)
    for name in LOADERS:
        loader = cfg.get(name)
        if loader and loader.dataset.get('type') == 'CachedFeatureDataset':
            loader.dataset = loader.dataset.dataset
    cfg.custom_hooks = [
        hook for hook in cfg.get('custom_hooks', [])
        if hook.get('type') != 'FeatureCacheHook'
    ]
    cfg.model.backbone.truncate_text = False
    return cfg
