# Copyright (c) mmltml contributors. All rights reserved.
"""Missing or corrupt images: a clear error naming the image and its list
file line, or (opt-in) skipped, counted and reported."""
import logging
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmltml.datasets import (BadImageError, CachedFeatureDataset,
                             LTMultiLabelDataset, find_image_problem,
                             lt_multi_label)
from mmltml.structures.frozen_image_encoder import FrozenImageEncoder

LOAD = dict(type='LoadImageFromFile')
PACK = dict(type='PackInputs')
#: list file line of each planted problem (lines 1-6 list img0..img5)
PLANTED = {'missing': 2, 'corrupt': 4, 'truncated': 5}


def _write_image(path, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3)).astype(np.uint8)).save(
        path, quality=90)


@pytest.fixture
def data_root(tmp_path):
    """Six JPEGs listed in train.txt; img1 missing, img3 garbage bytes,
    img4 cut in half."""
    root = tmp_path / 'data'
    (root / 'img').mkdir(parents=True)
    lines = []
    for i in range(6):
        path = root / 'img' / f'img{i}.jpg'
        _write_image(str(path), i)
        lines.append(f'img/img{i}.jpg {i % 3}')
    (root / 'img' / 'img1.jpg').unlink()
    (root / 'img' / 'img3.jpg').write_bytes(b'not an image' * 10)
    data = (root / 'img' / 'img4.jpg').read_bytes()
    (root / 'img' / 'img4.jpg').write_bytes(data[:len(data) // 2])
    (root / 'train.txt').write_text('\n'.join(lines) + '\n')
    (root / 'labels.txt').write_text('a 0\nb 1\nc 2\n')
    return str(root)


def _dataset(data_root, pipeline, **kwargs):
    return LTMultiLabelDataset(
        ann_file='train.txt', label_file='labels.txt', data_root=data_root,
        pipeline=pipeline, **kwargs)


def test_find_image_problem(data_root):
    img = osp.join(data_root, 'img')
    assert find_image_problem(osp.join(img, 'img0.jpg')) is None
    assert find_image_problem(osp.join(img, 'img1.jpg')) == 'does not exist'
    assert find_image_problem(osp.join(img, 'img3.jpg')) == \
        'cannot be decoded'
    assert find_image_problem(osp.join(img, 'img4.jpg')) == \
        'cannot be decoded'
    empty = osp.join(img, 'empty.jpg')
    open(empty, 'wb').close()
    assert find_image_problem(empty) == 'is empty'


def test_truncated_image_found_where_opencv_is_lenient(data_root,
                                                       monkeypatch):
    # some OpenCV builds decode a truncated JPEG into a partly grey image
    import mmcv
    monkeypatch.setattr(mmcv, 'imfrombytes',
                        lambda *args, **kwargs: np.zeros((24, 32, 3)))
    problem = find_image_problem(osp.join(data_root, 'img', 'img4.jpg'))
    assert problem.startswith('is truncated or corrupt (image file is '
                              'truncated')
    assert find_image_problem(osp.join(data_root, 'img', 'img0.jpg')) is None


@pytest.mark.parametrize('load', [
    LOAD,
    # returns None for a bad image: mmengine would silently load another
    dict(type='LoadImageFromFile', ignore_empty=True),
])
@pytest.mark.parametrize('image, index, problem', [
    ('img1.jpg', 1, 'does not exist'),
    ('img3.jpg', 3, 'cannot be decoded'),
])
def test_bad_image_error_names_image_and_line(data_root, load, image, index,
                                              problem):
    dataset = _dataset(data_root, [load, PACK])  # a training set
    assert dataset[0]['inputs'].shape == (3, 24, 32)
    with pytest.raises(BadImageError) as info:
        dataset[index]
    message = str(info.value)
    assert osp.join(data_root, 'train.txt') + f', line {index + 1}' in message
    assert osp.join(data_root, 'img', image) in message
    assert problem in message


def test_other_pipeline_errors_are_not_blamed_on_images(data_root):

    def broken(results):
        raise KeyError('gt_bbox')

    dataset = _dataset(data_root, [LOAD, broken])
    with pytest.raises(KeyError, match='gt_bbox'):
        dataset[0]


def test_skip_mode_leaves_out_counts_and_reports(data_root, monkeypatch):
    logged = []
    monkeypatch.setattr(lt_multi_label, 'print_log',
                        lambda msg, **kwargs: logged.append((msg, kwargs)))
    dataset = _dataset(data_root, [LOAD, PACK], on_bad_image='skip')
    assert len(dataset) == 3
    skipped = {osp.basename(path): (line, problem)
               for path, line, problem in dataset.skipped_images}
    assert {name: line for name, (line, _) in skipped.items()} == {
        'img1.jpg': 2, 'img3.jpg': 4, 'img4.jpg': 5}
    assert [dataset[i]['data_samples'].gt_label.tolist()
            for i in range(3)] == [[0], [2], [2]]
    assert 'Skipped images: \t3' in repr(dataset)
    (log, kwargs), = logged
    assert kwargs['level'] == logging.WARNING
    assert 'skipped 3 of 6 images' in log
    for name, line in PLANTED.items():
        assert f'train.txt, line {line}' in log, name


def test_error_mode_is_the_default_and_checked(data_root):
    assert _dataset(data_root, [LOAD, PACK]).on_bad_image == 'error'
    with pytest.raises(ValueError, match='on_bad_image'):
        _dataset(data_root, [LOAD, PACK], on_bad_image='ignore')


#: A stand-in frozen encoder: [B, 3] mean colour of each image.
MEAN_COLOUR = FrozenImageEncoder(
    lambda batch: batch['inputs'].float().mean(dim=(2, 3)), 3, lambda: 'key')


@pytest.mark.parametrize('on_bad_image', ['error', 'skip'])
def test_cached_feature_dataset(data_root, on_bad_image):
    pipeline = [LOAD, dict(type='Resize', scale=(8, 8)), PACK]
    wrapped = CachedFeatureDataset(
        _dataset(data_root, pipeline, on_bad_image=on_bad_image))
    if on_bad_image == 'error':
        with pytest.raises(BadImageError, match=r'train.txt, line 2: image '
                           r'.*img1.jpg does not exist'):
            wrapped.build_cache(MEAN_COLOUR)
        return
    assert wrapped.build_cache(MEAN_COLOUR)
    assert len(wrapped) == 3 and wrapped.features.shape == (3, 1, 3)
    # the rows still match their images after skipping (img0, img2, img5):
    # the BGR mean colour of each JPEG resized to 8 x 8 (OpenCV, bilinear)
    import cv2
    for row, i in enumerate((0, 2, 5)):
        image = cv2.imread(osp.join(data_root, 'img', f'img{i}.jpg'))
        small = cv2.resize(image, (8, 8), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(wrapped.features[row, 0].numpy(),
                                   small.reshape(-1, 3).mean(0), atol=1e-4)
    item = wrapped[1]
    assert item['inputs']['image_feats'].shape == (3, )
    assert item['data_samples'].gt_label.tolist() == [2]
