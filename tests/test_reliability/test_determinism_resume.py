# Copyright (c) mmltml contributors. All rights reserved.
"""Same seed, same result; a run interrupted mid-epoch and resumed ends
exactly as the uninterrupted run (weights bitwise, metrics equal).

mmengine 0.10.7's ``EpochBasedTrainLoop`` restarts a resumed epoch from its
first batch (documented by ``test_mmengine_loop_retrains_...``);
``ResumableEpochBasedTrainLoop`` skips the batches already trained on and
seeds the generators per iteration, so random transforms are drawn again
exactly; LMPT's cached-feature flips are drawn from (seed, epoch, index),
also in persistent data-loader workers.
"""
import glob
import os.path as osp

import pytest
import torch

from tests._tiny_setup import make_ltml_subset, make_tiny_project, smoke_config
from tests.test_reliability._utils import (RESUMABLE_LOOP, Interrupted,
                                           assert_same_metrics,
                                           assert_same_state, assert_trained,
                                           build_runner_from, model_state,
                                           val_metrics)

DETERMINISTIC = dict(seed=0, deterministic=True)


def _options(max_epochs, interval, loop=RESUMABLE_LOOP, interrupt_at=None,
             custom_hooks=()):
    """Iteration checkpoints every ``interval`` iterations; optionally a
    crash right after iteration ``interrupt_at``."""
    train_cfg = dict(max_epochs=max_epochs, val_interval=1)
    if loop is not None:  # replaces the config's by_epoch=True
        train_cfg.update(_delete_=True, type=loop)
    hooks = list(custom_hooks)
    if interrupt_at is not None:
        hooks.append(dict(type='InterruptAtIterHook', at_iter=interrupt_at))
    return {
        'train_cfg': train_cfg,
        'randomness': DETERMINISTIC,
        'default_hooks.checkpoint': dict(
            type='AtomicCheckpointHook', by_epoch=False, interval=interval),
        'custom_hooks': hooks
    }


def _train(cfg, work_dir, options, resume=False):
    runner = build_runner_from(cfg, work_dir, resume, options)
    runner.train()
    return runner


def _interrupted_then_resumed(cfg, work_dir, options, resume_options,
                              checkpoint):
    """Train until the crash, check that ``checkpoint`` is the latest one,
    then resume from it as ``tools/train.py --resume`` does."""
    runner = build_runner_from(cfg, work_dir, options=options)
    with pytest.raises(Interrupted):
        runner.train()
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work_dir, checkpoint)
    return _train(cfg, work_dir, resume_options, resume=True)


# ---------------------------------------------------------------------------
# tiny mmpretrain ImageClassifier: 16 images, batch 4, 2 epochs = 8 iters
# ---------------------------------------------------------------------------
TINY_HOOKS = (dict(type='SyncBuffersHook'), )


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_tiny_project(str(tmp_path_factory.mktemp('tiny')))


@pytest.fixture(scope='module')
def tiny_reference(tiny, tmp_path_factory):
    hooks = TINY_HOOKS + (dict(type='RecordInitialStateHook'), )
    runner = _train(tiny, str(tmp_path_factory.mktemp('tiny_ref')),
                    _options(2, 3, custom_hooks=hooks))
    assert runner.iter == 8
    assert_trained(runner)  # equal runs must not be equal by doing nothing
    return model_state(runner), val_metrics(runner)


def test_same_seed_same_result_tiny(tiny, tiny_reference, tmp_path):
    runner = _train(tiny, str(tmp_path), _options(2, 3,
                                                  custom_hooks=TINY_HOOKS))
    assert_same_state(tiny_reference[0], model_state(runner))
    assert_same_metrics(tiny_reference[1], val_metrics(runner))


def test_mid_epoch_resume_is_exact_tiny(tiny, tiny_reference, tmp_path):
    # checkpoint at iteration 6 (epoch 2, batch 2), killed after 7
    runner = _interrupted_then_resumed(
        tiny, str(tmp_path),
        _options(2, 3, interrupt_at=7, custom_hooks=TINY_HOOKS),
        _options(2, 3, custom_hooks=TINY_HOOKS), 'iter_6.pth')
    assert runner.iter == 8
    assert_same_state(tiny_reference[0], model_state(runner))
    assert_same_metrics(tiny_reference[1], val_metrics(runner))


def test_resume_after_the_last_batch_of_an_epoch_tiny(tiny, tiny_reference,
                                                      tmp_path):
    # iteration checkpoint at 4 = end of epoch 1, saved before the epoch's
    # validation; the resumed run validates epoch 1 and trains epoch 2
    runner = _interrupted_then_resumed(
        tiny, str(tmp_path),
        _options(2, 4, interrupt_at=5, custom_hooks=TINY_HOOKS),
        _options(2, 4, custom_hooks=TINY_HOOKS), 'iter_4.pth')
    assert runner.iter == 8
    assert_same_state(tiny_reference[0], model_state(runner))
    assert_same_metrics(tiny_reference[1], val_metrics(runner))


def test_mmengine_loop_retrains_the_resumed_epoch(tiny, tmp_path):
    options = _options(2, 3, loop=None, custom_hooks=TINY_HOOKS)
    runner = _interrupted_then_resumed(
        tiny, str(tmp_path),
        _options(2, 3, loop=None, interrupt_at=7, custom_hooks=TINY_HOOKS),
        options, 'iter_6.pth')
    # resumed at iteration 6 = batch 2 of epoch 2, it trained the whole
    # epoch 2 again: 6 + 4 = 10 iterations instead of 8
    assert runner.iter == 10


# ---------------------------------------------------------------------------
# LMPT with a tiny CLIP on a COCO-LT subset: 58 images, batch 8, 8 iters,
# cached features with random flips
# ---------------------------------------------------------------------------
LMPT = 'configs/lmpt/lmpt_vitb16_coco-lt.py'


@pytest.fixture(scope='module')
def lmpt(tmp_path_factory, ltml_dir):
    root = tmp_path_factory.mktemp('lmpt')
    make_ltml_subset(str(root), ltml_dir, 'coco')
    cache = str(root / 'feature_cache')  # shared by the runs of this module
    return str(root), smoke_config(str(root / 'cfg.py'), LMPT), cache


def _lmpt_options(cache, extra_hooks=(), max_epochs=1, **kwargs):
    hooks = (dict(type='FeatureCacheHook'), *extra_hooks)
    options = _options(max_epochs, 3, custom_hooks=hooks, **kwargs)
    options['train_dataloader.dataset.cache_dir'] = cache
    options['val_dataloader.dataset.cache_dir'] = cache
    return options


@pytest.fixture(scope='module')
def lmpt_reference(lmpt, tmp_path_factory):
    root, cfg, cache = lmpt
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        runner = _train(cfg, str(tmp_path_factory.mktemp('lmpt_ref')),
                        _lmpt_options(cache, extra_hooks=[
                            dict(type='RecordInitialStateHook')]))
    assert runner.iter == 8
    assert_trained(runner)
    assert runner.train_dataloader.dataset.flip_prob == 0.5
    return model_state(runner), val_metrics(runner)


def test_same_seed_same_result_lmpt(lmpt, lmpt_reference, tmp_path,
                                    monkeypatch):
    root, cfg, cache = lmpt
    monkeypatch.chdir(root)
    runner = _train(cfg, str(tmp_path), _lmpt_options(cache))
    assert_same_state(lmpt_reference[0], model_state(runner))
    assert_same_metrics(lmpt_reference[1], val_metrics(runner))


def test_mid_epoch_resume_is_exact_lmpt(lmpt, lmpt_reference, tmp_path,
                                        monkeypatch):
    root, cfg, cache = lmpt
    monkeypatch.chdir(root)
    # checkpoint at iteration 3, killed after 5: resumes at batch 4 of 8
    runner = _interrupted_then_resumed(cfg, str(tmp_path),
                                       _lmpt_options(cache, interrupt_at=5),
                                       _lmpt_options(cache), 'iter_3.pth')
    assert runner.iter == 8
    assert_same_state(lmpt_reference[0], model_state(runner))
    assert_same_metrics(lmpt_reference[1], val_metrics(runner))


def _lmpt_worker_options(cache, **kwargs):
    options = _lmpt_options(cache, max_epochs=2, **kwargs)
    options.update({'train_dataloader.num_workers': 2,
                    'train_dataloader.persistent_workers': True})
    return options


@pytest.mark.slow
def test_resume_with_persistent_workers_lmpt(lmpt, tmp_path, monkeypatch):
    """Cached flips are drawn from (seed, epoch, index) in the workers: two
    persistent workers train the weights of the in-process run, and a run
    killed in epoch 2 and resumed (new workers, started in epoch 2) ends
    bitwise as the uninterrupted one."""
    root, cfg, cache = lmpt
    monkeypatch.chdir(root)
    serial = _train(cfg, str(tmp_path / 'serial'),
                    _lmpt_options(cache, max_epochs=2))
    assert serial.iter == 16
    workers = _train(cfg, str(tmp_path / 'workers'),
                     _lmpt_worker_options(cache))
    assert_same_state(model_state(serial), model_state(workers))
    # checkpoint at iteration 12 (epoch 2, batch 4), killed after 13
    resumed = _interrupted_then_resumed(
        cfg, str(tmp_path / 'resumed'),
        _lmpt_worker_options(cache, interrupt_at=13),
        _lmpt_worker_options(cache), 'iter_12.pth')
    assert resumed.iter == 16
    assert_same_state(model_state(serial), model_state(resumed))
    assert_same_metrics(val_metrics(serial), val_metrics(resumed))
    (log, ) = glob.glob(osp.join(resumed.log_dir, '*.log'))
    with open(log) as f:
        text = f.read()
    assert 'Resuming epoch 2 after batch 4/8' in text
    assert 'random state of the data workers' not in text  # no false alarm


# ---------------------------------------------------------------------------
# the tiny classifier with random flips drawn in two data-loader workers
# ---------------------------------------------------------------------------
FLIP_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]


def _worker_options(persistent, **kwargs):
    options = _options(2, 3, custom_hooks=TINY_HOOKS, **kwargs)
    options.update({
        'train_dataloader.num_workers': 2,
        'train_dataloader.persistent_workers': persistent,
        'train_dataloader.dataset.pipeline': FLIP_PIPELINE
    })
    return options


@pytest.mark.slow
@pytest.mark.parametrize('persistent', [False, True])
def test_mid_epoch_resume_with_workers(tiny, tmp_path, persistent):
    """Workers draw the flips. Non-persistent workers are seeded by
    mmengine at each epoch start and the skipped batches are fetched, so
    the resume is exact; persistent workers carry random state from epoch
    1 that the checkpoint cannot hold, so the resumed run differs."""
    reference = _train(tiny, str(tmp_path / 'ref'),
                       _worker_options(persistent))
    resumed = _interrupted_then_resumed(
        tiny, str(tmp_path / 'resumed'),
        _worker_options(persistent, interrupt_at=7),
        _worker_options(persistent), 'iter_6.pth')
    assert resumed.iter == 8
    if not persistent:
        assert_same_state(model_state(reference), model_state(resumed))
    else:
        a, b = model_state(reference), model_state(resumed)
        assert any(not torch.equal(a[k], b[k]) for k in a)
