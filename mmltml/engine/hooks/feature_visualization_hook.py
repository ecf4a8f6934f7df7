# Copyright (c) mmltml contributors. All rights reserved.
"""mmpretrain's VisualizationHook, also for models fed cached features,
drawing pictures a person can read."""
import math
from typing import Optional, Sequence

import mmcv
import torch
import torch.nn.functional as F
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


class _Drawable(Sequence):
    """Images as the visualizer expects them: RGB (pipelines load BGR, and
    mmpretrain's hook hands them over unconverted, so the saved pictures
    had red and blue swapped), and enlarged by a whole factor with
    nearest-neighbour sampling until the short side reaches ``min_size``
    (the visualizer's text scales with the image: on a 64 px input it is
    about 2 px high). CHW uint8 tensors in, CHW uint8 tensors out."""

    def __init__(self, images: Sequence[torch.Tensor], bgr: bool,
                 min_size: int) -> None:
        self.images, self.bgr, self.min_size = images, bgr, min_size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> torch.Tensor:
        image = self.images[idx]
        if self.bgr:
            image = image.flip(0)
        factor = math.ceil(self.min_size / min(image.shape[-2:]))
        if factor > 1:
            image = F.interpolate(image[None].float(), scale_factor=factor,
                                  mode='nearest')[0].to(torch.uint8)
        return image


class _LabelsCapped(Sequence):
    """Data samples whose predicted labels are cut to the ``max_labels`` of
    highest logit (score without logits), best first: with CLIP logits
    every class passes the 0.5 threshold and the drawn list would not fit
    on the image."""

    def __init__(self, samples: Sequence[DataSample],
                 max_labels: Optional[int]) -> None:
        self.samples, self.max_labels = samples, max_labels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, idx: int) -> DataSample:
        sample = self.samples[idx]
        if self.max_labels is None or 'pred_label' not in sample:
            return sample
        rank_by = sample.get('pred_logits', sample.get('pred_score'))
        labels = sample.pred_label
        if rank_by is not None:
            labels = labels[torch.argsort(-rank_by[labels].float(),
                                          stable=True)]
        capped = sample.clone()
        capped.pred_label = labels[:self.max_labels]
        return capped


@HOOKS.register_module()
class FeatureVisualizationHook(VisualizationHook):
    """Draw predictions on the images, readable, also when the model input
    is not an image.

    mmpretrain's ``VisualizationHook`` draws ``data_batch['inputs']``; with
    a :class:`CachedFeatureDataset` (frozen-CLIP configs) those are cached
    features ``dict(image_feats=...)``, and the hook fails. This hook then
    reads each drawn sample's image from its ``img_path``. In both cases
    the drawn image is converted to RGB (mmpretrain's hook passes the
    pipeline's BGR image to a visualizer that expects RGB, swapping red
    and blue in the saved pictures), small images are enlarged
    (nearest-neighbour, a whole factor) to a short side of at least
    ``min_size`` so that the text is legible, and at most ``max_labels``
    predicted classes, those of highest logit, are listed. Other
    arguments as mmpretrain's ``VisualizationHook`` (``--show-dir`` and
    ``--show`` of the test tools set them).

    Args:
        min_size: enlarge images whose short side is below this.
        max_labels: list at most this many predicted classes (``None``:
            all above the threshold).
        channel_order: ``'bgr'`` (``LoadImageFromFile``'s, default) or
            ``'rgb'``: the channel order of the pipeline's images.
    """

    def __init__(self, *args, min_size: int = 448,
                 max_labels: Optional[int] = 10,
                 channel_order: str = 'bgr', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got "
                             f'{channel_order!r}')
        self.min_size, self.max_labels = min_size, max_labels
        self.bgr = channel_order == 'bgr'

    def _draw_samples(self, batch_idx: int, data_batch: dict,
                      data_samples: Sequence[DataSample],
                      step: int = 0) -> None:
        images = data_batch['inputs']
        if isinstance(images, dict):  # features, not images
            images = _ImagesOf(data_samples)
        data_batch = dict(data_batch, inputs=_Drawable(images, self.bgr,
                                                       self.min_size))
        super()._draw_samples(batch_idx, data_batch,
                              _LabelsCapped(data_samples, self.max_labels),
                              step)
