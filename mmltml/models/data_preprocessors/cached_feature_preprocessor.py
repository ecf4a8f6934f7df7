# Copyright (c) mmltml contributors. All rights reserved.
"""``ClsDataPreprocessor`` that also takes cached image features."""
from typing import List

from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS

from mmltml.structures.frozen_image_encoder import IMAGE_FEATS


@MODELS.register_module()
class CachedFeaturePreprocessor(ClsDataPreprocessor):
    """Image pre-processor that also takes precomputed image features.

    Batches of images are processed exactly as by mmpretrain's
    ``ClsDataPreprocessor`` (BGR->RGB, normalisation, padding, one-hot
    labels, batch augments). Batches of cached features,
    ``inputs=dict(image_feats=[B, E])`` as :class:`CachedFeatureDataset`
    yields them, skip the image operations (their images were converted
    and normalised when the features were computed): their labels are
    processed by :attr:`label_preprocessor`, a ``ClsDataPreprocessor``
    without image operations, exactly as for images, and the result is
    ``inputs=dict(image_feats=[B, E] fp32)``. Padding and batch augments
    (Mixup, CutMix) act on images, so they cannot be applied to cached
    features: such a config is refused (:meth:`check_feature_batch`).

    The label pre-processor follows the model's device
    (``BaseModel.to``/``cuda`` set it for every data pre-processor).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label_preprocessor = ClsDataPreprocessor(
            to_onehot=self.to_onehot, num_classes=self.num_classes)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Process a batch of images, or of cached image features."""
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            return super().forward(data, training)
        if set(inputs) != {IMAGE_FEATS}:
            raise ValueError(
                f'data_preprocessor: dict inputs must hold exactly '
                f"'{IMAGE_FEATS}' (cached image features), got "
                f'{sorted(inputs)}')
        self.check_feature_batch(training)
        out = self.label_preprocessor(
            dict(data, inputs=inputs[IMAGE_FEATS]), training)
        return dict(out, inputs={IMAGE_FEATS: out['inputs']})

    def image_operations(self, training: bool) -> List[str]:
        """The configured operations that act on images only."""
        image_ops = []
        if self.pad_size_divisor > 1:
            image_ops.append(f'pad_size_divisor={self.pad_size_divisor}')
        if training and self.batch_augments is not None:
            image_ops.append('batch_augments')
        return image_ops

    def check_feature_batch(self, training: bool) -> None:
        """Raise if a step on cached features would need image operations
        (checked before a cache is built, and at every step)."""
        image_ops = self.image_operations(training)
        if image_ops:
            raise ValueError(
                f'data_preprocessor: {", ".join(image_ops)} act(s) on images '
                'and cannot be applied to cached image features; remove '
                'it, or train without the feature cache (use the plain '
                'dataset instead of CachedFeatureDataset).')
