# Copyright (c) mmltml contributors. All rights reserved.
"""CachedFeatureDataset draws its flips from ``(seed, epoch, index)``:
the same in any order, in any number of (persistent) loader workers, in
a fresh process, and set per epoch by FeatureCacheHook."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from mmltml.datasets import CachedFeatureDataset, LTMultiLabelDataset
from mmltml.engine.hooks import FeatureCacheHook
from mmltml.structures.frozen_image_encoder import FrozenImageEncoder
from tests._tiny_setup import make_images

NUM = 24
FLIP_PROB = 0.5


def _first_row(batch):
    """Features that tell the two views apart: the first pixel row."""
    return torch.stack([img[0, 0].float() for img in batch['inputs']])


ENCODER = FrozenImageEncoder(_first_row, 8, lambda: 'first-row')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('flips'))
    data = make_images(root, NUM, 3, seed=0, size=8)
    with open(osp.join(root, 'list.txt'), 'w') as f:
        f.writelines(f'{d["img_path"]} {" ".join(map(str, d["gt_label"]))}\n'
                     for d in data)
    return root


def _dataset(root, seed=7):
    dataset = CachedFeatureDataset(
        LTMultiLabelDataset(
            ann_file=osp.join(root, 'list.txt'),
            metainfo=dict(classes=['a', 'b', 'c']), data_prefix=root,
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='RandomFlip', prob=FLIP_PROB,
                           direction='horizontal'),
                      dict(type='PackInputs')]),
        seed=seed)
    assert dataset.build_cache(ENCODER)
    dataset.set_epoch(0)  # as FeatureCacheHook.before_train
    return dataset


def _flips(items):
    """Flip of each served item, checked against the view it served."""
    flips = []
    for item, idx in items:
        flip = item['data_samples'].flip
        feats = item['inputs']['image_feats']
        assert torch.equal(feats, item['features'][idx, int(flip)])
        flips.append(flip)
    return flips


def _served(dataset, indices):
    return _flips((dict(dataset[i], features=dataset.features), i)
                  for i in indices)


def _loader_flips(dataset, epochs, **loader_kwargs):
    """Flips per epoch, in index order, through a DataLoader."""
    loader = DataLoader(dataset, batch_size=5, collate_fn=default_collate,
                        **loader_kwargs)
    per_epoch = []
    for epoch in epochs:
        dataset.set_epoch(epoch)  # as FeatureCacheHook.before_train_epoch
        flips = []
        for batch in loader:
            assert set(batch['inputs']) == {'image_feats'}
            start = len(flips)
            for row, sample in enumerate(batch['data_samples']):
                idx = start + row
                assert torch.equal(batch['inputs']['image_feats'][row],
                                   dataset.features[idx, int(sample.flip)])
                flips.append(sample.flip)
        per_epoch.append(flips)
    return per_epoch


def test_flips_depend_on_seed_epoch_and_index_only(root):
    dataset = _dataset(root)
    assert dataset.features.shape == (NUM, 2, 8)
    forward = _served(dataset, range(NUM))
    backward = _served(dataset, reversed(range(NUM)))[::-1]
    again = _served(_dataset(root), range(NUM))  # a new dataset object
    assert forward == backward == again
    np.random.seed(123)  # the global generator plays no part
    assert _served(dataset, range(NUM)) == forward
    dataset.set_epoch(1)
    assert dataset.epoch == 1 and _served(dataset, range(NUM)) != forward
    assert _served(_dataset(root, seed=8), range(NUM)) != forward


def test_flip_frequency_follows_the_pipeline(root):
    dataset = _dataset(root)
    flips = []
    for epoch in range(20):
        dataset.set_epoch(epoch)
        flips += _served(dataset, range(NUM))
    # 480 fair draws: 5 standard deviations is about +-0.11
    assert abs(np.mean(flips) - FLIP_PROB) < 0.11


@pytest.mark.parametrize('loader_kwargs', [
    dict(num_workers=2),
    dict(num_workers=2, persistent_workers=True),
])
def test_flips_do_not_depend_on_workers(root, loader_kwargs):
    """The epoch set in the main process reaches workers started before
    (persistent ones); each worker draws what the main process draws."""
    dataset = _dataset(root)
    serial = _loader_flips(dataset, range(3))
    assert serial[0] != serial[1] != serial[2]
    assert _loader_flips(dataset, range(3), **loader_kwargs) == serial
    # a "resumed" run: a new dataset and loader starting at epoch 2
    resumed = _loader_flips(_dataset(root), [2], **loader_kwargs)
    assert resumed == serial[2:]


def test_seed_none_is_drawn_like_a_samplers(root):
    np.random.seed(5)
    first = _dataset(root, seed=None).seed
    np.random.seed(5)
    assert _dataset(root, seed=None).seed == first
    assert first == np.random.RandomState(5).randint(2**31)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_a_flipping_wrapper_without_an_epoch_refuses_to_serve(
        root, num_workers):
    """Nobody set the epoch (no FeatureCacheHook): the first sample raises,
    in the main process or in a worker, saying what to add."""
    dataset = CachedFeatureDataset(_dataset(root).dataset, seed=7)
    loader = DataLoader(dataset, batch_size=5, collate_fn=default_collate,
                        num_workers=num_workers)
    with pytest.raises(RuntimeError, match='epoch was never set') as info:
        next(iter(loader))
    assert "Add dict(type='FeatureCacheHook') to custom_hooks" in str(
        info.value)
    assert osp.join(root, 'list.txt') in str(info.value)
    dataset.set_epoch(0)
    assert len(next(iter(loader))['data_samples']) == 5
    # without a flip the epoch plays no part: nothing to refuse
    still = CachedFeatureDataset(
        LTMultiLabelDataset(
            ann_file=osp.join(root, 'list.txt'),
            metainfo=dict(classes=['a', 'b', 'c']), data_prefix=root,
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')]), seed=7)
    assert still.flip_prob == 0 and 'data_samples' in still[0]


def test_hook_sets_the_epoch_before_each_training_epoch(root):
    dataset = _dataset(root)
    runner = SimpleNamespace(epoch=4,
                             train_dataloader=SimpleNamespace(dataset=dataset))
    FeatureCacheHook().before_train_epoch(runner)
    assert dataset.epoch == 4


def test_uncached_images_get_the_same_flips(root):
    """Without its cache (enable=False) the wrapper serves images, flipped
    by the same (seed, epoch, index) draws: each served image is the view
    whose features the cached run serves."""
    cached = _dataset(root)
    plain = CachedFeatureDataset(cached.dataset, enable=False, seed=7)
    assert not plain.build_cache(ENCODER) and not plain.cached
    for epoch in (0, 3):
        cached.set_epoch(epoch)
        plain.set_epoch(epoch)
        for idx in range(NUM):
            item = plain[idx]
            image = item['inputs']
            assert isinstance(image, torch.Tensor) and image.dim() == 3
            flip = item['data_samples'].flip
            assert flip == cached[idx]['data_samples'].flip
            assert torch.equal(_first_row(dict(inputs=[image])),
                               cached.features[idx, int(flip)][None])


def test_replaced_pipeline_is_served_as_it_is(root):
    """Tools such as browse_dataset replace the pipeline: it is then run
    as given, uncached."""
    dataset = _dataset(root)
    calls = []

    def pipeline(results):
        calls.append(results['img_path'])
        return dict(inputs=torch.zeros(1), data_samples=None)

    dataset.pipeline = pipeline
    assert not dataset.cached and not dataset.exact
    dataset[0]
    assert len(calls) == 1
