# Copyright (c) mmltml contributors. All rights reserved.
"""Through the tools (slow: each runs several processes).

* 1 process vs 2 gloo processes: the same LMPT checkpoint evaluates
  identically (``tools/test.py`` vs ``tools/dist_test.sh ... 2``), and one
  epoch trained with 1 process x batch 8 agrees with 2 processes x batch 4
  within the tolerance stated below.
* A ``tools/train.py`` run SIGKILLed mid-epoch and resumed with
  ``--resume`` ends with the weights and metrics of the uninterrupted run.
* A NaN loss on one rank stops every rank with FiniteLossHook's message.
"""
import glob
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests._ports import free_port, launch_with_free_port
from tests._tiny_setup import (REPO_ROOT, make_ltml_subset,
                               make_tiny_project, run_tool, smoke_config)
from tests.test_reliability._utils import build_runner_from

pytestmark = pytest.mark.slow

TOOLS = osp.join(REPO_ROOT, 'tools')
LMPT = 'configs/lmpt/lmpt_vitb16_coco-lt.py'
CTX = 'backbone.prompt_learner.ctx'
#: Tolerances of 2 processes x batch 4 against 1 process x batch 8; see
#: test_two_processes_train_like_one.
UPDATE_RTOL = 1e-4  # observed: 6e-7
METRIC_ATOL = 0.01  # mAP points (percent)


def _logged_metrics(work_dir, prefix):
    """The last validation metrics (keys starting with ``prefix``) logged
    by the latest run in ``work_dir``."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    with open(runs[-1]) as f:
        records = [json.loads(line) for line in f if f'"{prefix}' in line]
    return {k: v for k, v in records[-1].items() if k.startswith(prefix)}


def _state(path):
    return torch.load(path, weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def lmpt(tmp_path_factory, ltml_dir):
    root = tmp_path_factory.mktemp('lmpt')
    # colour-blob images, not pixel noise: a random tiny CLIP gives noise
    # images almost the same feature, so the logits of a class differ by
    # about 1e-5 between images (exact ties too) and the ranking, hence the
    # mAP, would follow float rounding (which differs between CPUs and
    # batch shapes), not the training
    make_ltml_subset(str(root), ltml_dir, 'coco', smooth=True)
    smoke = smoke_config(str(root / 'smoke.py'), LMPT,
                         train_cfg=dict(max_epochs=1, val_interval=1))
    # the random flip stays: the cached features' flips are drawn from
    # (seed, epoch, image index), the same with any number of processes; a
    # larger lr so that one epoch moves the prompts well above float
    # rounding
    cfg = str(root / 'cfg.py')
    with open(cfg, 'w') as f:
        f.write(f"""_base_ = [{smoke!r}]
optim_wrapper = dict(optimizer=dict(lr=0.01))
""")
    return str(root), cfg


def _test_metrics(cfg, ckpt, root, out, gpus=None):
    args = ['--work-dir', osp.join(root, 'test_' + out), '--out',
            osp.join(root, out), '--out-item', 'metrics']
    if gpus is None:
        run_tool([osp.join(TOOLS, 'test.py'), cfg, ckpt] + args, root)
    else:
        run_tool(['bash', osp.join(TOOLS, 'dist_test.sh'), cfg, ckpt,
                  str(gpus)] + args, root, port=free_port())
    with open(osp.join(root, out), 'rb') as f:
        return pickle.load(f)


def test_two_processes_train_like_one(lmpt, monkeypatch):
    """Tolerance: prompt updates within 1e-4 (relative L2), metrics within
    0.01 mAP points.

    Why: both runs see the same global batches in the same order (the
    sampler's permutation depends only on seed and epoch; rank r takes
    every other index, so the two per-rank batches of 4 are the batch of
    8; each image is flipped or not as in the single process, the flips
    being drawn from the seed, the epoch and the image index), and every
    per-rank batch has the same size (58 images: 7 x (4+4)
    and a last step of 1+1), so DDP's mean of the per-rank losses is the
    single-process batch mean for DB-Focal (per-element mean) and CSE (per
    image sum, mean over the batch). The only differences are float
    summation orders (gradients all-reduced as two half-batch sums, image
    features encoded in shards), about 1e-7 relative per step.
    """
    root, cfg = lmpt
    one, two = osp.join(root, 'train1'), osp.join(root, 'train2')
    run_tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir', one], root)
    proc = run_tool(['bash', osp.join(TOOLS, 'dist_train.sh'), cfg, '2',
                     '--work-dir', two, '--cfg-options',
                     'train_dataloader.batch_size=4'], root, port=free_port())
    assert 'GPU number: 2' in proc.stdout + proc.stderr

    monkeypatch.chdir(root)  # the initial prompts, as the tools build them
    initial = build_runner_from(cfg, osp.join(root, 'init'))
    ctx0 = initial.model.state_dict()[CTX]
    update1 = _state(osp.join(one, 'epoch_1.pth'))[CTX] - ctx0
    update2 = _state(osp.join(two, 'epoch_1.pth'))[CTX] - ctx0
    assert update1.norm() > 1e-3  # training moved the prompts
    assert (update2 - update1).norm() <= UPDATE_RTOL * update1.norm()

    metrics1 = _logged_metrics(one, 'lt/')
    metrics2 = _logged_metrics(two, 'lt/')
    assert metrics1.keys() == metrics2.keys() and 'lt/mAP' in metrics1
    for key in metrics1:
        np.testing.assert_allclose(metrics2[key], metrics1[key],
                                   atol=METRIC_ATOL, err_msg=key)

    # the same checkpoint evaluates identically with 1 and 2 processes
    ckpt = osp.join(one, 'epoch_1.pth')
    single = _test_metrics(cfg, ckpt, root, 'single.pkl')
    double = _test_metrics(cfg, ckpt, root, 'double.pkl', gpus=2)
    assert 'lt/mAP' in single
    np.testing.assert_equal(double, single)


def test_killed_run_resumes_exactly_through_the_tools(tmp_path):
    project = make_tiny_project(str(tmp_path))
    common = f"""_base_ = [{project!r}]
custom_imports = dict(
    imports=['mmltml', 'tests.test_reliability._utils'],
    allow_failed_imports=False)
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop',
                 max_epochs=2, val_interval=1)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3))
"""
    cfg, killed_cfg = str(tmp_path / 'cfg.py'), str(tmp_path / 'kill.py')
    with open(cfg, 'w') as f:
        f.write(common)
    with open(killed_cfg, 'w') as f:
        f.write(common + "custom_hooks = [dict(type='SyncBuffersHook'), "
                "dict(type='InterruptAtIterHook', at_iter=7, kill=True)]\n")
    straight, resumed = str(tmp_path / 'straight'), str(tmp_path / 'resumed')
    run_tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir', straight],
             REPO_ROOT)
    killed = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'train.py'), killed_cfg,
         '--work-dir', resumed], cwd=REPO_ROOT, capture_output=True,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    assert killed.returncode == -9, killed.stderr[-2000:]
    proc = run_tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir',
                     resumed, '--resume'], REPO_ROOT)
    assert 'after batch 2/4: skipping the 2 batches' in proc.stdout + \
        proc.stderr
    a = _state(osp.join(straight, 'iter_8.pth'))
    b = _state(osp.join(resumed, 'iter_8.pth'))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    metrics = _logged_metrics(straight, 'multi-label/')
    assert metrics and _logged_metrics(resumed, 'multi-label/') == metrics


def test_nan_loss_on_one_rank_stops_every_rank(tmp_path):
    project = make_tiny_project(str(tmp_path))
    cfg = str(tmp_path / 'cfg.py')
    with open(cfg, 'w') as f:
        f.write(f"""_base_ = [{project!r}]
custom_imports = dict(
    imports=['mmltml', 'tests.test_reliability._utils'],
    allow_failed_imports=False)
custom_hooks = [dict(type='SyncBuffersHook'),
                dict(type='NaNLossOnRankHook', rank=1, at_iter=3)]
""")
    proc = launch_with_free_port(lambda port: subprocess.run(
        ['bash', osp.join(TOOLS, 'dist_train.sh'), cfg, '2', '--work-dir',
         str(tmp_path / 'work')],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT, PORT=str(port))))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # 16 images, 2 ranks x batch 4: 2 iterations per epoch
    assert ('Non-finite training loss at iteration 3 (epoch 2, batch 1/2): '
            'loss=nan') in log
    assert ('Non-finite training loss on another rank at iteration 3 '
            '(epoch 2, batch 1/2) (the losses of rank 0 are finite)') in log
    assert 'epoch_1.pth, is kept' in log
