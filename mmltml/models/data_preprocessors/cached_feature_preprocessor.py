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
    labels). Batches of feature vectors [B, E], which
    :class:`CachedFeatureDataset` yields once the frozen image encoder's
    outputs are cached, skip the image operations (their images were
    normalised when the features were computed); labels are handled the
    same way.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        if not is_feature_batch(data['inputs']):
            return super().forward(data, training)
        normalize, self._enable_normalize = self._enable_normalize, False
        try:
            return super().forward(data, training)
        finally:
            self._enable_normalize = normalize
