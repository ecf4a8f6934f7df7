# Copyright (c) mmltml contributors. All rights reserved.
"""``tools/misc/predict.py``: one image that fails does not lose the
others, and images of any size reach a model that takes one size.

Before, a 1 x 1 image among others crashed the whole call in
``avg_pool2d`` without naming the image (no image got an output), and a
10000 x 10000 JPEG under a memory limit gave a raw allocator error. Now
each failing image is named with its size and cause, the others are
predicted, and the exit status is 1; configs whose test pipeline has no
``Resize`` get one to the CLIP image tower's input size, and say so.

Zero-shot tiny CLIP on the synthetic benchmark (64 px images, no Resize
in its test pipeline), so nothing is trained.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from mmltml.apis import MultiLabelInferencer
from tests._tiny_setup import REPO_ROOT
from tests.test_reliability._synthetic import BENCHMARK

ZERO_SHOT = 'configs/synthetic/clip_tinyclip_zeroshot_synthetic.py'
PREDICT = osp.join(REPO_ROOT, 'tools', 'misc', 'predict.py')
#: the tiny CLIP's input size (checkpoints/tinyclip_synthetic.json)
INPUT_SIZE = 64


def _predict(args, cwd, margin_mb=None):
    """predict.py --json, optionally under a memory limit."""
    prefix = [] if margin_mb is None else [
        '-m', 'tests.test_reliability._limited_memory', str(margin_mb)]
    return subprocess.run(
        [sys.executable] + prefix + [PREDICT] + args + ['--json'], cwd=cwd,
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + cwd))


def _json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def _expected(infer, images):
    """What the inferencer's batch call (mmpretrain's path, all images in
    one call) gives, as predict.py prints it."""
    return [dict(image=image, predictions=[
        [name, score, logit] for name, score, logit in zip(
            r['pred_classes'], r['pred_label_scores'],
            r['pred_label_logits'])]) for image, r in zip(
                images, infer(images))]


def _assert_same(printed, expected):
    assert [p['image'] for p in printed] == [e['image'] for e in expected]
    for p, e in zip(printed, expected):
        assert [n for n, _, _ in p['predictions']] == \
            [n for n, _, _ in e['predictions']]
        np.testing.assert_allclose([s[1:] for s in p['predictions']],
                                   [s[1:] for s in e['predictions']],
                                   rtol=1e-5, atol=1e-5)


def _random_image(path, height, width, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (height, width, 3),
                                 dtype=np.uint8)).save(path)


@pytest.fixture
def images(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(synthetic_root)
    test_images = [osp.join(BENCHMARK, 'test', f'00000{i}.png')
                   for i in range(2)]
    one, empty = str(tmp_path / 'one.png'), str(tmp_path / 'empty.jpg')
    _random_image(one, 1, 1)
    open(empty, 'wb').close()
    odd = str(tmp_path / 'odd.jpg')
    _random_image(odd, 80, 100)
    return dict(good=test_images, one=one, empty=empty, odd=odd,
                missing=str(tmp_path / 'missing.png'))


def test_one_failing_image_does_not_stop_the_others(images, synthetic_root,
                                                    tmp_path):
    """A 1 x 1 image through a CenterCrop (no Resize) into the tiny CLIP,
    whose stem pools it away, as in the issue; a missing and an empty
    file."""
    cfg = str(tmp_path / 'center_crop.py')
    with open(cfg, 'w') as f:
        f.write(f"""_base_ = [{osp.join(synthetic_root, ZERO_SHOT)!r}]
test_dataloader = dict(dataset=dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size={INPUT_SIZE}),
    dict(type='PackInputs')])))
""")
    good_a, good_b = images['good']
    args = [good_a, images['one'], images['missing'], images['empty'],
            good_b, images['odd']]
    proc = _predict([cfg, 'none'] + args, synthetic_root)
    assert proc.returncode == 1
    err = proc.stderr
    assert (f'error: image {images["one"]} (argument 2 of the images) '
            'cannot be predicted (1 x 1 px): RuntimeError: ') in err
    assert 'Output size is too small' in err
    assert (f'error: image {images["missing"]} (argument 3 of the images) '
            'does not exist') in err
    assert (f'error: image {images["empty"]} (argument 4 of the images) '
            'is empty') in err
    assert 'error: 3 of 6 images could not be predicted' in err
    assert 'note:' not in err  # the CenterCrop bounds the size
    infer = MultiLabelInferencer(cfg, pretrained=False, device='cpu')
    _assert_same(_json_lines(proc.stdout),
                 _expected(infer, [good_a, good_b, images['odd']]))


def test_a_config_without_resize_predicts_any_size(images, synthetic_root,
                                                   tmp_path):
    """Each image is resized to the tower's 64 x 64 input (cv2 bilinear,
    as mmcv's Resize): the same prediction as for the image resized
    beforehand."""
    infer = MultiLabelInferencer(ZERO_SHOT, pretrained=False, device='cpu')
    assert infer.resize_note == (
        f'the test pipeline has no Resize: images are resized to '
        f'{INPUT_SIZE} x {INPUT_SIZE} px for prediction (the input size of '
        "the model's image tower)")
    resized = []
    for name in ('odd', 'one'):
        image = cv2.imread(images[name])
        path = str(tmp_path / f'{name}_64.png')
        cv2.imwrite(path, cv2.resize(image, (INPUT_SIZE, INPUT_SIZE),
                                     interpolation=cv2.INTER_LINEAR))
        resized.append(path)
    sources = [images['odd'], images['one']] + images['good']
    results = list(infer.predict_each(sources))
    assert all(r.error is None for r in results)
    expected = infer(resized + images['good'])
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got.result['pred_logits'],
                                   want['pred_logits'], rtol=1e-5,
                                   atol=1e-4)


@pytest.mark.slow
def test_a_huge_image_under_a_memory_limit(images, synthetic_root,
                                           tmp_path):
    """10000 x 10000 px (286 MB decoded) with 200 MB to spare: named with
    its size; the images before and after it are predicted."""
    huge = str(tmp_path / 'huge.jpg')
    grid = np.random.default_rng(0).integers(0, 255, (10, 10, 3),
                                             dtype=np.uint8)
    Image.fromarray(grid).resize((10000, 10000), Image.BILINEAR).save(
        huge, quality=80)
    good_a, good_b = images['good']
    proc = _predict([ZERO_SHOT, 'none', good_a, huge, good_b],
                    synthetic_root, margin_mb=200)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert (f'error: image {huge} (argument 2 of the images) is too large '
            'to decode in the available memory (10000 x 10000 px, 286 MB '
            'decoded') in proc.stderr
    assert (f'note: the test pipeline has no Resize: images are resized to '
            f'{INPUT_SIZE} x {INPUT_SIZE} px') in proc.stderr
    infer = MultiLabelInferencer(ZERO_SHOT, pretrained=False, device='cpu')
    _assert_same(_json_lines(proc.stdout),
                 _expected(infer, [good_a, good_b]))
