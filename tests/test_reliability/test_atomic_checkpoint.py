# Copyright (c) mmltml contributors. All rights reserved.
"""A kill or a full disk while a checkpoint is written loses nothing.

The run (a child process, :mod:`tests.test_reliability._faults`) keeps one
checkpoint (the default runtime's ``max_keep_ckpts=1``) and is hit while
it writes ``epoch_2.pth``: by a real SIGKILL, or by ``ENOSPC``. With
mmengine's own ``CheckpointHook`` ``epoch_1.pth`` is deleted first and
``last_checkpoint`` names it; here ``epoch_1.pth`` and ``last_checkpoint``
survive, and the run resumed from it ends with the weights of an
uninterrupted run.
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests._tiny_setup import REPO_ROOT, make_tiny_project
from tests.test_reliability._utils import (assert_same_state,
                                           build_runner_from, model_state)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_tiny_project(str(tmp_path_factory.mktemp('tiny')))


@pytest.fixture(scope='module')
def straight(tiny, tmp_path_factory):
    """The final weights of an uninterrupted 2-epoch run."""
    runner = build_runner_from(tiny, str(tmp_path_factory.mktemp('straight')))
    runner.train()
    return model_state(runner)


def _faulty_run(cfg, work_dir, fault):
    return subprocess.run(
        [sys.executable, '-m', 'tests.test_reliability._faults', cfg,
         work_dir, fault, '2'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT))


@pytest.mark.parametrize('fault', ['kill', 'enospc'])
def test_fault_during_checkpoint_write_keeps_the_previous_one(
        tiny, straight, tmp_path, fault):
    work_dir = str(tmp_path / 'work')
    proc = _faulty_run(tiny, work_dir, fault)
    if fault == 'kill':
        assert proc.returncode == -9, proc.stderr[-3000:]
    else:
        assert proc.returncode == 1 and 'No space left' in proc.stderr, \
            proc.stderr[-3000:]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert last == osp.join(work_dir, 'epoch_1.pth')
    ckpt = torch.load(last, map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 1
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))
    # the fragment is a temporary file (removed by the next run)
    fragments = glob.glob(osp.join(work_dir, '.epoch_2.pth.tmp-*'))
    assert len(fragments) == (1 if fault == 'kill' else 0)

    runner = build_runner_from(tiny, work_dir, resume=True)
    runner.train()
    assert runner.epoch == 2
    assert_same_state(model_state(runner), straight)
    assert not glob.glob(osp.join(work_dir, '.*.tmp-*'))
    assert sorted(os.listdir(work_dir)).count('epoch_2.pth') == 1
    assert not osp.exists(osp.join(work_dir, 'epoch_1.pth'))  # rotated
