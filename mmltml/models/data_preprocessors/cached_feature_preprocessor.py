# Copyright (c) mmltml contributors. All rights reserved.
"""``ClsDataPreprocessor`` that also passes cached feature vectors."""
import torch
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS


def is_feature_batch(inputs) -> bool:
    """Whether a collated batch holds feature vectors [B, E], not images."""
    return isinstance(inputs, torch.Tensor) and inputs.dim() == 2


@MODELS.register_module()
class CachedFeaturePreprocessor(ClsDataPreprocessor):
    """Image pre-processor that lets precomputed features through.

    Batches of images are processed exactly as by mmpretrain's
    ``ClsDataPreprocessor`` (BGR->RGB, normalisation, padding, one-hot
    labels, batch augments). Batches of feature vectors [B, E], which
    :class:`CachedFeatureDataset` yields once the frozen image encoder's
    outputs are cached, skip the image operations (their images were
    converted and normalised when the features were computed); labels are
    handled the same way. Padding and batch augments (Mixup, CutMix) act on
    images, so they cannot be applied to cached features: such a config is
    refused.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Process a batch of images, or pass a batch of features."""
        if not is_feature_batch(data['inputs']):
            return super().forward(data, training)
        self.check_feature_batch(training)
        saved = self._enable_normalize, self.to_rgb
        self._enable_normalize = self.to_rgb = False
        try:
            return super().forward(data, training)
        finally:
            self._enable_normalize, self.to_rgb = saved

    def check_feature_batch(self, training: bool) -> None:
        """Raise if a step on cached features would need image operations
        (checked by :class:`FeatureCacheHook` before it builds a cache)."""
        image_ops = []
        if self.pad_size_divisor > 1:
            image_ops.append(f'pad_size_divisor={self.pad_size_divisor}')
        if training and self.batch_augments is not None:
            image_ops.append('batch_augments')
        if image_ops:
            raise ValueError(
                f'data_preprocessor: {", ".join(image_ops)} act(s) on images '
                'and cannot be applied to cached image features; remove '
                'it, or train without the feature cache (use the plain '
                'dataset instead of CachedFeatureDataset).')
