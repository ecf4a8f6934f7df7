# Copyright (c) mmltml contributors. All rights reserved.
"""A cached-feature training set without ``FeatureCacheHook`` stops at its
first batch with an error that says what to add, whichever runner or loop
iterates it (a plain mmengine ``Runner`` here; mmpretrain's own
``tools/train.py`` in ``tests/test_tools/test_stock_tools.py``).

Without the hook every epoch would draw the flips of epoch 0 and nothing
would be cached. The usual way to lose it: a child config that sets
``custom_hooks`` replaces its base's list.
"""
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmltml.benchmarks.synthetic import generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT

LMPT = osp.join(REPO_ROOT, 'configs', 'synthetic',
                'lmpt_tinyclip_synthetic.py')
FIX = "Add dict(type='FeatureCacheHook') to custom_hooks of the config"


def write_child_config(root: str) -> str:
    """A child of the LMPT config whose ``custom_hooks`` drop the hook."""
    path = osp.join(root, 'lmpt_child.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = {LMPT!r}\n'
                "custom_hooks = [dict(type='SyncBuffersHook')]\n")
    return path


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('bench'))
    generate_synthetic_lt(osp.join(root, 'data', 'synthetic'), seed=0,
                          image_size=64, max_train_count=6,
                          min_train_count=2, test_per_class=1)
    os.symlink(osp.join(REPO_ROOT, 'checkpoints'),
               osp.join(root, 'checkpoints'))
    return root


@pytest.mark.parametrize('loop', ['ResumableEpochBasedTrainLoop',
                                  'EpochBasedTrainLoop'])
def test_plain_runner_without_the_hook_stops_naming_the_fix(
        bench, tmp_path, monkeypatch, loop):
    monkeypatch.chdir(bench)
    cfg = Config.fromfile(write_child_config(str(tmp_path)))
    assert [h['type'] for h in cfg.custom_hooks] == ['SyncBuffersHook']
    cfg.train_cfg = dict(type=loop, max_epochs=1, val_interval=1)
    cfg.train_dataloader.num_workers = 0
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='epoch was never set') as info:
        runner.train()
    assert FIX in str(info.value)
    assert 'data/synthetic/train.txt' in str(info.value)
    assert runner.iter == 0
    assert not runner.train_dataloader.dataset.cached


def test_with_the_hook_the_same_runner_trains(bench, tmp_path, monkeypatch):
    monkeypatch.chdir(bench)
    cfg = Config.fromfile(LMPT)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2,
                         val_interval=2)
    cfg.train_dataloader.num_workers = 0
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    dataset = runner.train_dataloader.dataset
    assert dataset.cached and dataset.epoch == 1
