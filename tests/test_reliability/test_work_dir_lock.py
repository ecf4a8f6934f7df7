# Copyright (c) mmltml contributors. All rights reserved.
"""One training run per work dir.

Without the lock, two runs started with the same ``--work-dir`` both
report success, share one log and one scalars file, and only one run's
checkpoint survives. A second run is now refused with an error naming the
first (pid, host, command, start time); the lock of a killed run is taken
over.
"""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest

from mmltml.utils.work_dir_lock import (LOCK_NAME, WorkDirBusyError,
                                        acquire_work_dir, release_work_dir)
from tests._tiny_setup import REPO_ROOT, make_tiny_project
from tests.test_reliability._utils import build_runner_from

HOLD = ('import sys, time\n'
        'from mmltml.utils.work_dir_lock import acquire_work_dir\n'
        'acquire_work_dir(sys.argv[1])\n'
        'print("held", flush=True)\n'
        'time.sleep(120)\n')


@pytest.fixture
def holder(tmp_path):
    """A live process (another run) holding the lock of a work dir."""
    work_dir = str(tmp_path / 'work')
    proc = subprocess.Popen(
        [sys.executable, '-c', HOLD, work_dir, '--marker-arg'],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    assert proc.stdout.readline().strip() == 'held'
    yield work_dir, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_second_run_is_refused_then_stale_lock_taken_over(holder):
    work_dir, proc = holder
    with pytest.raises(WorkDirBusyError) as info:
        acquire_work_dir(work_dir)
    message = str(info.value)
    assert f'pid {proc.pid} on host {socket.gethostname()}' in message
    assert '--marker-arg' in message and 'started 20' in message
    # another rank of a run does not take the lock
    assert acquire_work_dir(work_dir, rank=1) is None
    os.kill(proc.pid, signal.SIGKILL)  # the lock file stays behind
    proc.wait()
    assert osp.isfile(osp.join(work_dir, LOCK_NAME))
    note = acquire_work_dir(work_dir)
    assert 'stale run lock' in note and f'pid {proc.pid} ' in note
    release_work_dir(work_dir)
    assert not osp.exists(osp.join(work_dir, LOCK_NAME))


def test_stock_runner_is_refused_before_training(holder, tmp_path):
    """A runner built without tools/train.py: the checkpoint hook takes the
    lock when training starts, before the first iteration."""
    work_dir, proc = holder
    cfg = make_tiny_project(str(tmp_path / 'tiny'))
    runner = build_runner_from(cfg, work_dir)
    with pytest.raises(WorkDirBusyError, match=f'pid {proc.pid} '):
        runner.train()
    assert runner.iter == 0
    assert not [n for n in os.listdir(work_dir) if n.endswith('.pth')]


def test_train_tool_is_refused_at_once(holder, tmp_path):
    work_dir, proc = holder
    cfg = make_tiny_project(str(tmp_path / 'tiny'))
    before = sorted(os.listdir(work_dir))
    run = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), cfg,
         '--work-dir', work_dir], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=300, env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    assert run.returncode == 1
    assert 'WorkDirBusyError' in run.stderr
    assert f'pid {proc.pid} on host' in run.stderr
    # refused before the runner made its log folder in the work dir
    assert sorted(os.listdir(work_dir)) == before
