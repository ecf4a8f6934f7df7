# Copyright (c) mmltml contributors. All rights reserved.
"""mmpretrain's VisualizationHook, also for models fed cached features."""
from typing import Sequence

import mmcv
import torch
from mmpretrain.engine.hooks import VisualizationHook
from mmpretrain.registry import HOOKS
from mmpretrain.structures import DataSample


class _ImagesOf(Sequence):
    """The images of data samples, read from ``img_path`` when indexed
    (CHW uint8 tensors, as ``LoadImageFromFile`` + ``PackInputs`` give;
    flipped like the cached view the sample was served from)."""

    def __init__(self, data_samples: Sequence[DataSample]) -> None:
        self.data_samples = data_samples

    def __len__(self) -> int:
        return len(self.data_samples)

    def __getitem__(self, idx: int) -> torch.Tensor:
        sample = self.data_samples[idx]
        image = mmcv.imread(sample.img_path)
        if sample.get('flip', False):
            image = mmcv.imflip(image, direction='horizontal')
        return torch.from_numpy(image.copy()).permute(2, 0, 1)


@HOOKS.register_module()
class FeatureVisualizationHook(VisualizationHook):
    """Draw predictions on the images also when the model input is not an
    image.

    mmpretrain's ``VisualizationHook`` draws ``data_batch['inputs']``; with
    a :class:`CachedFeatureDataset` (frozen-CLIP configs) those are cached
    features ``dict(image_feats=...)``, and the hook fails. This hook then
    reads each drawn sample's image from its ``img_path``; with image
    inputs it behaves exactly like mmpretrain's. Arguments as mmpretrain's
    ``VisualizationHook`` (``--show-dir`` and ``--show`` of the test tools
    set them).
    """

    def _draw_samples(self, batch_idx: int, data_batch: dict,
                      data_samples: Sequence[DataSample],
                      step: int = 0) -> None:
        if isinstance(data_batch['inputs'], dict):  # features, not images
            data_batch = dict(data_batch, inputs=_ImagesOf(data_samples))
        super()._draw_samples(batch_idx, data_batch, data_samples, step)
