# Copyright (c) mmltml contributors. All rights reserved.
"""Runs that share a feature ``cache_dir`` build it at the same time.

Before, every process wrote ``features_<key>.pt.tmp`` and renamed it: the
second rename found no file (``FileNotFoundError``) about one time in
three. Two processes (fork) now build the same cache at once, round after
round; each must succeed and the published file must be complete.
"""
import multiprocessing as mp
import os
import os.path as osp
import traceback

import torch

from mmltml.datasets import CachedFeatureDataset, LTMultiLabelDataset
from mmltml.structures.frozen_image_encoder import FrozenImageEncoder
from tests._tiny_setup import make_images

ROUNDS = 8
DIM = 100_000  # 8 images x 400 KB: long enough writes to overlap


def _dataset(root, cache_dir):
    return CachedFeatureDataset(
        LTMultiLabelDataset(
            ann_file=osp.join(root, 'list.txt'),
            metainfo=dict(classes=['a', 'b', 'c']),
            data_prefix=root,
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')]),
        cache_dir=cache_dir, max_memory_mb=1e6)


def _encode(batch):
    """Features that are a function of the images (and so equal in every
    process): each image's mean pixel value, repeated."""
    means = torch.stack([img.float().mean() for img in batch['inputs']])
    return means[:, None] * torch.arange(1, DIM + 1, dtype=torch.float32)


ENCODER = FrozenImageEncoder(_encode, DIM, lambda: 'key')


def _builder(root, barrier, errors):
    try:
        for i in range(ROUNDS):
            barrier.wait(timeout=120)
            ds = _dataset(root, osp.join(root, f'cache_{i}'))
            assert ds.build_cache(ENCODER)
    except BaseException:
        errors.put(traceback.format_exc())
        barrier.abort()  # the other process stops waiting
        raise


def test_two_processes_build_one_cache_at_once(tmp_path):
    root = str(tmp_path)
    data = make_images(root, 8, 3, seed=0)
    with open(osp.join(root, 'list.txt'), 'w') as f:
        f.writelines(f'{d["img_path"]} {" ".join(map(str, d["gt_label"]))}\n'
                     for d in data)
    ctx = mp.get_context('fork')
    barrier, errors = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_builder, args=(root, barrier, errors))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    failures = [errors.get() for _ in range(errors.qsize())]
    assert not failures, failures[0]
    assert [proc.exitcode for proc in procs] == [0, 0]

    expected = _dataset(root, None)
    assert expected.build_cache(ENCODER)
    for i in range(ROUNDS):
        folder = osp.join(root, f'cache_{i}')
        names = os.listdir(folder)
        assert len(names) == 1 and names[0].startswith('features_'), names
        saved = torch.load(osp.join(folder, names[0]), weights_only=True)
        assert torch.equal(saved, expected.features)
