# Copyright (c) mmltml contributors. All rights reserved.
"""Stand-in JPEGs for runs where only the list files exist.

Used by ``tools/analysis_tools/benchmark_train.py --fake-images`` and by
the real-scale test tier (``tests/test_realscale``): photo-sized JPEGs of
smooth random colours (upsampled noise), which decode like photos (about
37 KB at 640 x 480, not incompressible noise) and differ from image to
image, so a random encoder gives each a different feature.
"""
import os
import os.path as osp
from typing import Tuple

import numpy as np

#: Width x height of common COCO images (landscape, portrait, VOC-like
#: 500 x 375, wide): a list of them gives the varied sizes and aspect
#: ratios of a real image folder.
COCO_IMAGE_SIZES = ((640, 480), (480, 640), (640, 427), (500, 375),
                    (640, 360), (427, 640))


def write_stand_in_jpeg(path: str, size: Tuple[int, int],
                        rng: np.random.Generator) -> None:
    """Write a ``size`` (width, height) JPEG of smooth random colours to
    ``path`` (JPEG whatever the extension; folders are created)."""
    from PIL import Image
    low = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(low).resize(tuple(size), Image.BICUBIC)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    image.save(path, format='JPEG', quality=90)
