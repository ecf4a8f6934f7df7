# Copyright (c) mmltml contributors. All rights reserved.
import os.path as osp

import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS
from PIL import Image

from mmltml.datasets import (COCO_LT_CLASSES, COCOLTDataset,
                             LTMultiLabelDataset, VOCLTDataset,
                             parse_list_file)
from .ltml_counts import COCO_TRAIN, VOC_TRAIN


def _write(path, text: str) -> str:
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    return str(path)


@pytest.fixture
def tiny(tmp_path):
    """A 3-class list, label and caption file under tmp_path."""
    _write(tmp_path / 'labels.txt', 'cat 0\r\nhot dog 1 \r\nzebra 2\r\n')
    _write(tmp_path / 'train.txt', 'img/a.jpg 0 \r\nimg/b.jpg 1 2\n\n'
           'img/c.jpg 2')
    _write(
        tmp_path / 'caps.txt', 'img/c.jpg a zebra.\nimg/a.jpg a cat '
        'on a mat \r\nimg/b.jpg a hot dog and a zebra\n')
    return tmp_path


def _build(root, **kwargs):
    cfg = dict(
        ann_file='train.txt', label_file='labels.txt', data_root=str(root))
    cfg.update(kwargs)
    return LTMultiLabelDataset(**cfg)


def test_official_coco_lt(ltml_dir):
    root = osp.join(ltml_dir, 'coco')
    train = COCOLTDataset(
        root, with_captions=True, label_file='coco_labels.txt')
    assert len(train) == 1909 and train.num_unlabelled == 0
    assert train.CLASSES == COCO_LT_CLASSES
    assert train.class_stats['class_freq'] == COCO_TRAIN
    # every training image has its own caption, matched by path
    assert train.num_captions == 1909
    caps = {}
    with open(osp.join(root, 'coco_lt_captions.txt'), encoding='utf-8') as f:
        for line in f:
            if line.strip():
                path, cap = line.strip().split(None, 1)
                caps[path] = cap
    paths, _ = parse_list_file(osp.join(root, 'coco_lt_train.txt'))
    assert set(caps) == set(paths)
    for i in (0, 100, 1908):
        info = train.get_data_info(i)
        rel = osp.relpath(info['img_path'], root)
        assert info['caption'] == caps[rel]
    test = COCOLTDataset(root, split='test')
    assert len(test) == 5000 and test.num_unlabelled == 48
    assert test.test_mode
    info = train.get_data_info(0)
    assert info['img_path'] == osp.join(root, 'train2017', '000000554625.jpg')
    assert info['gt_label'] == [0, 62, 64, 66]
    assert 'Caption file' in repr(train) and '1909' in repr(train)


def test_official_voc_lt(ltml_dir):
    root = osp.join(ltml_dir, 'voc')
    train = VOCLTDataset(root, with_captions=True)
    assert len(train) == 1142 and train.num_captions == 1142
    assert train.class_stats['class_freq'] == VOC_TRAIN
    assert train.get_cat_ids(0) == [4, 14, 19]
    assert train.get_data_info(0)['img_path'].endswith(
        'VOCdevkit/VOC2012/JPEGImages/2008_000023.jpg')
    test = VOCLTDataset(root, split='test')
    assert len(test) == 4952 and test.num_unlabelled == 0
    with pytest.raises(ValueError, match='split'):
        VOCLTDataset(root, split='val')
    with pytest.raises(ValueError, match='train split'):
        VOCLTDataset(root, split='test', with_captions=True)


def test_build_from_registry_and_metainfo(tiny):
    ds = DATASETS.build(
        dict(
            type='LTMultiLabelDataset',
            ann_file='train.txt',
            label_file='labels.txt',
            caption_file='caps.txt',
            data_root=str(tiny)))
    assert ds.CLASSES == ('cat', 'hot dog', 'zebra')
    assert ds.metainfo['classes'] == ('cat', 'hot dog', 'zebra')
    assert [ds.get_cat_ids(i) for i in range(3)] == [[0], [1, 2], [2]]
    assert [ds.get_data_info(i)['caption'] for i in range(3)
            ] == ['a cat on a mat', 'a hot dog and a zebra', 'a zebra.']
    assert ds.get_data_info(1)['img_path'] == osp.join(str(tiny), 'img/b.jpg')
    # metainfo names take precedence over the label file (same count)
    renamed = _build(tiny, metainfo=dict(classes=['x', 'y', 'z']))
    assert renamed.CLASSES == ('x', 'y', 'z')
    only_meta = _build(
        tiny, label_file=None, metainfo=dict(classes=['x', 'y', 'z']))
    assert only_meta.CLASSES == ('x', 'y', 'z')
    # mmpretrain's legacy ``classes``: a list or a one-name-per-line file
    _write(tiny / 'names.txt', 'u\nv\nw\n')
    legacy = _build(tiny, label_file=None, classes=str(tiny / 'names.txt'))
    assert legacy.CLASSES == ('u', 'v', 'w')
    with pytest.raises(ValueError, match='class count mismatch'):
        _build(tiny, classes=['u', 'v'])
    prefixed = _build(tiny, data_prefix='images')
    assert prefixed.get_data_info(0)['img_path'] == osp.join(
        str(tiny), 'images', 'img/a.jpg')
    assert ds.class_stats['class_freq'] == [1, 1, 2]
    assert ds.get_class_stats(
        head_thr=2, tail_thr=2)['groups'] == dict(
            head=[2], medium=[], tail=[0, 1])


def test_captions_reach_the_data_sample(tiny):
    for name, color in [('a', 'red'), ('b', 'green'), ('c', 'blue')]:
        (tiny / 'img').mkdir(exist_ok=True)
        Image.new('RGB', (40, 30), color).save(tiny / 'img' / f'{name}.jpg')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=16),
        dict(type='PackInputs', algorithm_keys=['caption']),
    ]
    ds = _build(tiny, caption_file='caps.txt', pipeline=pipeline)
    out = ds[1]
    sample = out['data_samples']
    assert sample.caption == 'a hot dog and a zebra'
    assert sample.gt_label.tolist() == [1, 2]
    assert out['inputs'].shape == (3, 16, 16)
    assert out['inputs'].dtype == torch.uint8
    # the green image decoded as BGR: green channel dominates
    assert np.argmax(out['inputs'].float().mean((1, 2)).numpy()) == 1


def test_unlabelled_images(tiny):
    _write(tiny / 'test.txt', 'img/a.jpg 0\nimg/x.jpg \nimg/y.jpg\n')
    test = _build(tiny, ann_file='test.txt', test_mode=True)
    assert len(test) == 3 and test.num_unlabelled == 2
    with pytest.raises(
            ValueError, match=r'test.txt, line 2: training image .*no labels'):
        _build(tiny, ann_file='test.txt')


@pytest.mark.parametrize('list_text, match', [
    ('img/a.jpg 0\nimg/b.jpg 3\n', r'train.txt, line 2: label id 3 out of'),
    ('img/a.jpg 0\nimg/b.jpg 1\nimg/a.jpg 2\n',
     r'train.txt, line 3: duplicate image'),
])
def test_bad_list_file(tiny, list_text, match):
    _write(tiny / 'train.txt', list_text)
    with pytest.raises(ValueError, match=match):
        _build(tiny)


@pytest.mark.parametrize('caps, required, match', [
    ('img/a.jpg x\nimg/zz.jpg y\nimg/b.jpg z\nimg/c.jpg w\n', False,
     r'caps.txt, line 2: caption for image \'img/zz.jpg\', which is not'),
    ('img/a.jpg x\nimg/c.jpg w\n', True,
     r'train.txt, line 2: image \'img/b.jpg\' has no caption'),
    ('img/a.jpg x\nimg/b.jpg   \nimg/c.jpg w\n', False,
     r'caps.txt, line 2: expected "<image path> <caption>"'),
    ('img/a.jpg x\nimg/b.jpg y\nimg/a.jpg z\n', False,
     r'caps.txt, line 3: second caption for image'),
])
def test_bad_caption_file(tiny, caps, required, match):
    _write(tiny / 'caps.txt', caps)
    with pytest.raises(ValueError, match=match):
        _build(tiny, caption_file='caps.txt', require_captions=required)


def test_missing_caption_allowed_when_not_required(tiny):
    _write(tiny / 'caps.txt', 'img/a.jpg x\n')
    ds = _build(tiny, caption_file='caps.txt')
    assert ds.num_captions == 1 and 'caption' not in ds.get_data_info(1)


def test_class_count_mismatch_and_missing_classes(tiny):
    with pytest.raises(ValueError, match='class count mismatch'):
        _build(tiny, metainfo=dict(classes=['x', 'y']))
    with pytest.raises(ValueError, match='class count mismatch'):
        COCOLTDataset(str(tiny), ann_file='train.txt', label_file='labels.txt')
    with pytest.raises(ValueError, match='label_file or metainfo'):
        _build(tiny, label_file=None)
    with pytest.raises(ValueError, match='needs a caption_file'):
        _build(tiny, require_captions=True)
    with pytest.raises(FileNotFoundError, match='nocaps.txt'):
        _build(tiny, caption_file='nocaps.txt')
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        _build(tiny, ann_file='missing.txt')


def test_label_order_of_the_list_file_is_kept_on_request(tmp_path):
    """``label_order='file'`` keeps each line's ids as written (LM-CLIP's
    label captions); the default sorts them; both give the same labels."""
    _write(tmp_path / 'labels.txt', 'cat 0\nhot dog 1\nzebra 2\n')
    _write(tmp_path / 'train.txt', 'a.jpg 2 0\nb.jpg 1 2 0\nc.jpg 1\n')
    written = _build(tmp_path, label_order='file')
    default = _build(tmp_path)
    assert [written.get_data_info(i)['gt_label'] for i in range(3)] == [
        [2, 0], [1, 2, 0], [1]]
    assert [default.get_data_info(i)['gt_label'] for i in range(3)] == [
        [0, 2], [0, 1, 2], [1]]
    assert written.class_stats == default.class_stats
    with pytest.raises(ValueError, match="label_order must be one of"):
        _build(tmp_path, label_order='alphabetical')
