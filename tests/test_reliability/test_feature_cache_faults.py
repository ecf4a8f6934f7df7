# Copyright (c) mmltml contributors. All rights reserved.
"""Faults while the image-feature cache is built (``CachedFeatureDataset``
with ``cache_dir``): NaN in the inputs and a full disk.

Before: a full disk ended the run with torch's "[enforce fail at
inline_container.cc:672] . unexpected pos 768 vs 662"; a disk cache with
NaN features was served as it was (the test then failed in the metric with
"24 score(s) are NaN"); NaN features from the encoder (NaN weights) were
cached and served. Now a full disk leaves no file, is logged with the free
space and the run goes on from memory with the same metrics; a cache with
NaN is rebuilt; NaN from the encoder stops the build, naming the images;
NaN inputs are refused at collation, naming them.

Zero-shot tiny CLIP on the synthetic benchmark: tests only, nothing
trained.
"""
import collections
import glob
import os
import os.path as osp
import subprocess

import pytest
import torch
from mmpretrain.structures import DataSample

import mmltml.datasets.cached_feature_dataset as cached_module
from mmltml.engine.collate import checked_collate
from tests.test_reliability._synthetic import BENCHMARK
from tests.test_reliability._utils import build_runner_from

ZERO_SHOT = 'configs/synthetic/clip_tinyclip_zeroshot_synthetic.py'
CACHE_DIR = 'test_dataloader.dataset.cache_dir'
#: what torch.save raises when the disk fills up mid-write (observed on a
#: full tmpfs with torch 2.14: no errno, no file name)
TORCH_FULL_DISK = '[enforce fail at inline_container.cc:672] . unexpected ' \
    'pos 768 vs 662'


def _test(work, options=None):
    """Metrics and log text of a test run."""
    runner = build_runner_from(ZERO_SHOT, work, options=options)
    metrics = runner.test()
    (log, ) = glob.glob(osp.join(runner.log_dir, '*.log'))
    with open(log) as f:
        return metrics, f.read()


@pytest.fixture
def root(synthetic_root, monkeypatch):
    monkeypatch.chdir(synthetic_root)
    return synthetic_root


@pytest.fixture
def clean(root, tmp_path):
    """Metrics of the run without a disk cache."""
    metrics, _ = _test(str(tmp_path / 'clean'))
    assert 'lt/mAP' in metrics
    return metrics


def test_a_disk_cache_with_nan_is_rebuilt(root, clean, tmp_path):
    cache = str(tmp_path / 'cache')
    first, _ = _test(str(tmp_path / 'a'), {CACHE_DIR: cache})
    assert first == clean
    (path, ) = glob.glob(osp.join(cache, '*.pt'))
    features = torch.load(path, weights_only=True)
    features[3] = float('nan')
    torch.save(features, path)

    metrics, log = _test(str(tmp_path / 'b'), {CACHE_DIR: cache})
    assert (f'the feature cache {path} holds NaN or inf features of 1 of '
            f'{len(features)} images; rebuilding it') in log
    assert metrics == clean
    assert torch.isfinite(torch.load(path, weights_only=True)).all()


def test_nan_features_from_the_encoder_stop_the_build(root, tmp_path):
    """NaN in one weight of the frozen CLIP's image tower makes every
    feature NaN: the build stops naming the images; nothing is cached."""
    weights = torch.load('checkpoints/tinyclip_synthetic.pth',
                         weights_only=True)
    weights['visual.attnpool.c_proj.weight'][0, 0] = float('nan')
    nan_clip = str(tmp_path / 'nan_clip.pth')
    torch.save(weights, nan_clip)
    cache = str(tmp_path / 'cache')
    runner = build_runner_from(ZERO_SHOT, str(tmp_path / 'work'), options={
        CACHE_DIR: cache, 'model.backbone.clip_pretrained': nan_clip})
    with pytest.raises(ValueError) as error:
        runner.test()
    with open(osp.join(BENCHMARK, 'test.txt')) as f:
        first = osp.join(BENCHMARK, f.readline().split()[0])
    message = str(error.value)
    assert ('the frozen image encoder gave NaN or inf features (view 1/1) '
            'for ') in message
    assert first in message and 'Nothing was cached' in message
    assert not os.path.exists(cache) or not os.listdir(cache)


def _full_disk_save(real_save):
    """torch.save that writes part of the file, then fails as on a full
    disk."""
    def save(obj, path, *args, **kwargs):
        real_save(obj, path, *args, **kwargs)
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 2)
        raise RuntimeError(TORCH_FULL_DISK)
    return save


def test_a_full_disk_loses_nothing(root, clean, tmp_path, monkeypatch):
    """The write fails half-way (as torch fails on a full disk): no file,
    not even a temporary one, a warning naming the file, and the test
    runs on from memory with the metrics of a run without a disk cache."""
    cache = str(tmp_path / 'cache')
    monkeypatch.setattr(torch, 'save', _full_disk_save(torch.save))
    metrics, log = _test(str(tmp_path / 'work'), {CACHE_DIR: cache})
    assert metrics == clean
    assert os.listdir(cache) == []
    assert 'CachedFeatureDataset: the feature cache ' in log
    assert f'was not written (RuntimeError: {TORCH_FULL_DISK}; ' in log
    assert 'This run goes on with the features in memory' in log


def test_too_little_free_space_is_found_before_writing(root, clean, tmp_path,
                                                       monkeypatch):
    cache = str(tmp_path / 'cache')
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(cached_module.shutil, 'disk_usage',
                        lambda folder: usage(2**30, 2**30, 0))
    metrics, log = _test(str(tmp_path / 'work'), {CACHE_DIR: cache})
    assert metrics == clean
    assert os.listdir(cache) == []
    assert ('was not written (OSError: [Errno 28] No space left on device; '
            '0 KB free, 24 KB needed)') in log  # 48 images x 128 x 4 B


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 16 KiB tmpfs (needs root and mount permission)."""
    folder = str(tmp_path / 'tmpfs')
    os.makedirs(folder)
    mount = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16k',
                            'tmpfs', folder], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f'cannot mount a small tmpfs here ({mount.stderr.strip()}'
                    '); the simulated full disk is tested above')
    yield folder
    subprocess.run(['umount', folder], check=True)


def test_a_really_full_disk(root, clean, tmp_path, full_tmpfs):
    metrics, log = _test(str(tmp_path / 'work'), {CACHE_DIR: full_tmpfs})
    assert metrics == clean
    assert os.listdir(full_tmpfs) == []
    assert 'No space left on device' in log and \
        f'the feature cache {full_tmpfs}/features_' in log


def test_nan_inputs_are_refused_at_collation():
    def sample(path, value):
        return dict(inputs=dict(image_feats=torch.tensor([0.5, value])),
                    data_samples=DataSample(metainfo=dict(img_path=path)))

    batch = checked_collate([sample('a.png', 1.0), sample('b.png', 2.0)])
    assert batch['inputs']['image_feats'].shape == (2, 2)
    with pytest.raises(ValueError) as error:
        checked_collate([sample('a.png', 1.0), sample('b.png', float('nan')),
                         sample('c.png', float('inf'))])
    assert str(error.value).startswith(
        'inputs with NaN or inf values: b.png, c.png')
