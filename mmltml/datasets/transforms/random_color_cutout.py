# Copyright (c) mmltml contributors. All rights reserved.
"""One random box filled with one random colour (CPRFL's ``CutoutPIL``)."""
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomColorCutout(BaseTransform):
    """Fill one random box of the image with one random colour.

    The cutout of CPRFL's training pipeline (``CutoutPIL`` of the ASL code
    base, applied after the 448 x 448 resize): a centre is drawn uniformly
    over the pixels, the box extends ``round(cutout_factor * side) // 2``
    pixels on each side of it (both ends included, so at most 225 x 225
    pixels at 448 px with the default factor 0.5), is clipped to the image,
    and is filled with one colour whose channels are uniform in
    ``[0, 255]``. The original computes the half-extents with the width and
    height swapped; this is the same for the square images CPRFL uses.

    Required Keys:

    - img

    Modified Keys:

    - img

    Args:
        cutout_factor (float): Box side as a fraction of the image side.
            Defaults to 0.5.
        prob (float): Probability of applying the cutout. Defaults to 1.0,
            as in CPRFL.
    """

    def __init__(self, cutout_factor: float = 0.5, prob: float = 1.0) -> None:
        if not 0 <= cutout_factor <= 1:
            raise ValueError(
                f'cutout_factor must be in [0, 1], got {cutout_factor}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.cutout_factor = cutout_factor
        self.prob = prob

    def _random_span(self, side: int) -> Tuple[int, int]:
        """Start and end (exclusive) of the box along one image axis."""
        half = int(self.cutout_factor * side + 0.5) // 2
        centre = np.random.randint(side)
        return max(centre - half, 0), min(centre + half + 1, side)

    @cache_randomness
    def _random_box_and_color(
            self, height: int, width: int,
            channels: int) -> Optional[Tuple[int, int, int, int, np.ndarray]]:
        """``(y1, y2, x1, x2, colour)``, or None to leave the image as is."""
        if np.random.rand() >= self.prob:
            return None
        y1, y2 = self._random_span(height)
        x1, x2 = self._random_span(width)
        return y1, y2, x1, x2, np.random.randint(0, 256, size=channels)

    def transform(self, results: dict) -> dict:
        """Apply the cutout to ``results['img']`` (an H x W (x C) array)."""
        img = results['img']
        channels = img.shape[2] if img.ndim == 3 else 1
        box = self._random_box_and_color(img.shape[0], img.shape[1], channels)
        if box is None:
            return results
        y1, y2, x1, x2, color = box
        img = img.copy()
        img[y1:y2, x1:x2] = color.astype(img.dtype).reshape(img.shape[2:])
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(cutout_factor='
                f'{self.cutout_factor}, prob={self.prob})')
