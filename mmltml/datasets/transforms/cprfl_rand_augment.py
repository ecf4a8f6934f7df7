# Copyright (c) mmltml contributors. All rights reserved.
"""CPRFL's RandAugment as a policy table for mmpretrain's ``RandAugment``."""
from typing import List, Sequence, Union

import numpy as np
from mmpretrain.datasets.transforms import RandAugment
from mmpretrain.registry import TRANSFORMS

NUM_BINS = 10  # magnitudes are np.linspace(low, high, 10)[bin], bin 1..9


def _magnitude(low: float, high: float, level: int) -> float:
    return float(np.linspace(low, high, NUM_BINS)[level])


def cprfl_randaug_policies(
    prob: float = 0.5,
    pad_val: Sequence[int] = (128, 128, 128),
    cutout_pad_val: Sequence[int] = (113, 122, 125)
) -> List[dict]:
    """CPRFL's 15 RandAugment ops x 9 magnitude bins as 135 policy dicts.

    The ops and magnitudes of the PyPI ``randaugment==1.0.2`` package that
    CPRFL trains with, expressed with mmpretrain's augmentation transforms.
    Shear, translation and the enhance ops (factor ``1 +- m``) get a random
    sign; rotation is counter-clockwise only (mmpretrain's ``Rotate`` turns
    clockwise for positive angles, hence the negative angle).

    The fills are per-channel tuples: with an int ``pad_val`` mmpretrain's
    ``Rotate`` fills only the first channel (``mmcv.imrotate`` hands the int
    to OpenCV, which reads it as ``(v, 0, 0)``).

    Args:
        prob (float): Probability of each op. Defaults to 0.5.
        pad_val (Sequence[int]): Fill of shear, translation and rotation.
            Defaults to (128, 128, 128).
        cutout_pad_val (Sequence[int]): Fill of the small cutout op, in the
            image's channel order. Defaults to the original RGB
            (125, 122, 113) written in the BGR order of
            ``LoadImageFromFile``.
    """
    geometric = dict(pad_val=tuple(pad_val), prob=prob)
    policies = []
    for level in range(1, NUM_BINS):
        shear = _magnitude(0, 0.3, level)
        translate = _magnitude(0, 150 / 331, level)
        enhance = _magnitude(0, 0.9, level)
        policies += [
            dict(type='Invert', prob=prob),
            dict(
                type='Cutout',
                shape=int(np.round(_magnitude(0, 20, level))),
                pad_val=tuple(cutout_pad_val),
                prob=prob),
            dict(type='Sharpness', magnitude=enhance, prob=prob),
            dict(type='AutoContrast', prob=prob),
            dict(
                type='Posterize',
                bits=int(np.round(_magnitude(8, 4, level))),
                prob=prob),
            dict(type='Shear', magnitude=shear, **geometric),
            dict(type='Translate', magnitude=translate, **geometric),
            dict(
                type='Translate',
                magnitude=translate,
                direction='vertical',
                **geometric),
            dict(
                type='Shear',
                magnitude=shear,
                direction='vertical',
                **geometric),
            dict(
                type='Rotate',
                angle=-_magnitude(0, 30, level),
                random_negative_prob=0.,
                **geometric),
            dict(type='Equalize', prob=prob),
            dict(type='Contrast', magnitude=enhance, prob=prob),
            dict(type='ColorTransform', magnitude=enhance, prob=prob),
            dict(type='Solarize', thr=_magnitude(256, 0, level), prob=prob),
            dict(type='Brightness', magnitude=enhance, prob=prob),
        ]
    return policies


@TRANSFORMS.register_module()
class CPRFLRandAugment(RandAugment):
    """mmpretrain's ``RandAugment`` with CPRFL's policy table.

    CPRFL trains with the RandAugment of the PyPI package
    ``randaugment==1.0.2``: every call draws ``num_policies`` = 2
    (op, magnitude bin) pairs independently and uniformly from 15 ops x 9
    bins and applies each with probability 0.5. mmpretrain's
    ``RandAugment`` draws ``num_policies`` policies uniformly with
    replacement, so the 135 fixed-magnitude policies of
    :func:`cprfl_randaug_policies` reproduce this sampling exactly. The ops
    are mmpretrain's (mmcv/OpenCV) instead of PIL's; the known differences
    are small:

    - rotation, shear and translation use OpenCV's warps (same centre,
      interpolation, fill 128 and signs); nearest-neighbour rounding may pick
      a neighbouring source pixel where PIL does not;
    - the small cutout op places its box as ``mmcv.cutout`` does (a
      ``shape`` x ``shape`` box from a continuous uniform centre, shifted
      inside the image at the top/left border) instead of clipping a box of
      ``2 * (shape // 2)`` around an integer centre.

    Required Keys:

    - img

    Modified Keys:

    - img

    Args:
        num_policies (int): Ops drawn per call. Defaults to 2.
        prob (float): Probability of each drawn op. Defaults to 0.5.
        pad_val (int | Sequence[int]): Fill of the geometric ops; an int
            fills every channel. Defaults to 128.
        cutout_pad_val (Sequence[int]): Fill of the cutout op, see
            :func:`cprfl_randaug_policies`. Defaults to (113, 122, 125).
    """

    def __init__(
        self,
        num_policies: int = 2,
        prob: float = 0.5,
        pad_val: Union[int, Sequence[int]] = 128,
        cutout_pad_val: Sequence[int] = (113, 122, 125)
    ) -> None:
        if isinstance(pad_val, int):
            pad_val = (pad_val, ) * 3
        super().__init__(
            policies=cprfl_randaug_policies(prob, pad_val, cutout_pad_val),
            num_policies=num_policies,
            magnitude_level=0,
            hparams=dict())
        self.prob = prob
        self.pad_val = tuple(pad_val)
        self.cutout_pad_val = tuple(cutout_pad_val)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_policies={self.num_policies}'
                f', prob={self.prob}, pad_val={self.pad_val}, cutout_pad_val='
                f'{self.cutout_pad_val}, policies: {len(self.policies)} = 15 '
                'ops x 9 magnitude bins)')
