# Copyright (c) mmltml contributors. All rights reserved.
"""CPRFL's training augmentations: RandomColorCutout and CPRFLRandAugment."""
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmpretrain.registry import TRANSFORMS
from PIL import Image

import mmltml  # noqa: F401
from mmltml.datasets.transforms import cprfl_randaug_policies


def run(transform, img, seed):
    np.random.seed(seed)
    return transform(dict(img=img.copy()))['img']


# --------------------------------------------------------------------------
# RandomColorCutout


@pytest.mark.parametrize('shape', [(48, 48, 3), (40, 60, 3), (30, 20)])
def test_cutout_fills_one_clipped_box_with_one_colour(shape):
    cutout = TRANSFORMS.build(dict(type='RandomColorCutout'))
    img = np.zeros(shape, np.uint8)
    max_h = int(0.5 * shape[0] + 0.5) // 2 * 2 + 1
    max_w = int(0.5 * shape[1] + 0.5) // 2 * 2 + 1
    sizes, touches_border = set(), False
    for seed in range(60):
        out = run(cutout, img, seed)
        assert out.shape == img.shape and out.dtype == np.uint8
        changed = out != 0 if out.ndim == 2 else (out != 0).any(axis=2)
        rows, cols = np.nonzero(changed)
        y1, y2, x1, x2 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert changed[y1:y2, x1:x2].all()  # exactly one rectangle
        assert (out[y1:y2, x1:x2] == out[y1, x1]).all()  # one colour
        assert y2 - y1 <= max_h and x2 - x1 <= max_w
        sizes.add((y2 - y1, x2 - x1))
        touches_border |= y1 == 0 or x1 == 0 or y2 == shape[0] \
            or x2 == shape[1]
    assert (max_h, max_w) in sizes and touches_border
    assert not img.any()  # the input array is not modified


def test_cutout_determinism_and_probability():
    img = np.random.RandomState(0).randint(0, 256, (32, 32, 3), np.uint8)
    cutout = TRANSFORMS.build(dict(type='RandomColorCutout'))
    np.testing.assert_array_equal(run(cutout, img, 3), run(cutout, img, 3))
    assert not np.array_equal(run(cutout, img, 3), run(cutout, img, 4))
    never = TRANSFORMS.build(dict(type='RandomColorCutout', prob=0.))
    for seed in range(10):
        np.testing.assert_array_equal(run(never, img, seed), img)
    with pytest.raises(ValueError):
        TRANSFORMS.build(dict(type='RandomColorCutout', prob=1.5))


# --------------------------------------------------------------------------
# CPRFLRandAugment


def test_policy_table_matches_cprfl_magnitudes():
    policies = cprfl_randaug_policies()
    assert len(policies) == 15 * 9
    assert {p['prob'] for p in policies} == {0.5}
    ops = {(p['type'], p.get('direction', 'horizontal')) for p in policies}
    assert len(ops) == 15

    def values(op_type, key, direction='horizontal'):
        return [
            p[key] for p in policies if p['type'] == op_type
            and p.get('direction', 'horizontal') == direction
        ]

    assert values('Posterize', 'bits') == [8, 7, 7, 6, 6, 5, 5, 4, 4]
    assert values('Cutout', 'shape') == [2, 4, 7, 9, 11, 13, 16, 18, 20]
    levels = np.arange(1, 10) / 9
    np.testing.assert_allclose(values('Rotate', 'angle'), -30 * levels)
    np.testing.assert_allclose(values('Solarize', 'thr'), 256 - 256 * levels)
    np.testing.assert_allclose(
        values('Shear', 'magnitude', 'vertical'), 0.3 * levels)
    np.testing.assert_allclose(
        values('Translate', 'magnitude'), 150 / 331 * levels)
    for op_type in ('Brightness', 'Contrast', 'ColorTransform', 'Sharpness'):
        np.testing.assert_allclose(values(op_type, 'magnitude'), 0.9 * levels)
    assert values('Rotate', 'random_negative_prob') == [0.] * 9


def test_rotation_is_counter_clockwise_like_pil():
    rotate = [
        p for p in cprfl_randaug_policies(prob=1.) if p['type'] == 'Rotate'
    ][-1]  # bin 9: 30 degrees
    yy, xx = np.mgrid[:48, :64]
    img = np.stack([xx * 3, yy * 3, (xx + yy) * 2], -1).astype(np.uint8)
    ours = TRANSFORMS.build(rotate)(dict(img=img.copy()))['img']
    pil = np.asarray(Image.fromarray(img).rotate(30, fillcolor=(128, ) * 3))
    # Nearest-neighbour rounding may pick a neighbouring source pixel.
    assert np.abs(ours.astype(int) - pil).max() <= 6


def test_rand_augment_output_determinism_and_probability():
    augment = TRANSFORMS.build(dict(type='CPRFLRandAugment'))
    assert augment.num_policies == 2
    img = np.random.RandomState(0).randint(0, 256, (40, 36, 3), np.uint8)
    outputs = [run(augment, img, seed) for seed in range(40)]
    for out in outputs:
        assert out.shape == img.shape and out.dtype == np.uint8
    assert sum(not np.array_equal(out, img) for out in outputs) > 20
    np.testing.assert_array_equal(run(augment, img, 7), outputs[7])
    never = TRANSFORMS.build(dict(type='CPRFLRandAugment', prob=0.))
    for seed in range(10):
        np.testing.assert_array_equal(run(never, img, seed), img)


def test_cprfl_train_pipeline():
    pipeline = Compose([
        TRANSFORMS.build(dict(type=name))
        for name in ('RandomColorCutout', 'CPRFLRandAugment', 'PackInputs')
    ])
    img = np.random.RandomState(1).randint(0, 256, (32, 32, 3), np.uint8)
    np.random.seed(0)
    packed = pipeline(dict(img=img, gt_label=[0, 2]))
    assert tuple(packed['inputs'].shape) == (3, 32, 32)
    assert packed['data_samples'].gt_label.tolist() == [0, 2]
