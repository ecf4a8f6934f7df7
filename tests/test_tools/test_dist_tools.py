# Copyright (c) mmltml contributors. All rights reserved.
"""The tools run distributed on CPU (gloo), evaluate consistently, and
resume from their own checkpoints on current torch."""
import os.path as osp
import pickle

import pytest
import torch

from tests._tiny_setup import REPO_ROOT, free_port, make_tiny_project, run_tool

TOOLS = osp.join(REPO_ROOT, 'tools')


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    return make_tiny_project(str(tmp_path_factory.mktemp('tiny')))


def _test_metrics(cfg, ckpt, work_dir, gpus=None):
    out = osp.join(work_dir, 'metrics.pkl')
    extra = ['--work-dir', work_dir, '--out', out, '--out-item', 'metrics']
    if gpus is None:
        run_tool([osp.join(TOOLS, 'test.py'), cfg, ckpt] + extra, REPO_ROOT)
    else:
        run_tool(['bash', osp.join(TOOLS, 'dist_test.sh'), cfg, ckpt,
                  str(gpus)] + extra, REPO_ROOT, port=free_port())
    with open(out, 'rb') as f:
        return pickle.load(f)


def test_dist_train_then_dist_test_equals_single_process(project, tmp_path):
    work_dir = str(tmp_path / 'dist')
    proc = run_tool(['bash', osp.join(TOOLS, 'dist_train.sh'), project, '2',
                     '--work-dir', work_dir], REPO_ROOT, port=free_port())
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    assert osp.isfile(ckpt)

    single = _test_metrics(project, ckpt, str(tmp_path / 't1'))
    double = _test_metrics(project, ckpt, str(tmp_path / 't2'), gpus=2)
    assert set(single) == set(double)
    for key in single:
        assert single[key] == pytest.approx(double[key], abs=1e-6), key


def test_resume_continues_at_the_right_epoch(project, tmp_path):
    straight = str(tmp_path / 'straight')
    run_tool([osp.join(TOOLS, 'train.py'), project, '--work-dir', straight,
              '--no-validate'], REPO_ROOT)

    resumed = str(tmp_path / 'resumed')
    run_tool([osp.join(TOOLS, 'train.py'), project, '--work-dir', resumed,
              '--no-validate', '--cfg-options', 'train_cfg.max_epochs=1'],
             REPO_ROOT)
    proc = run_tool([osp.join(TOOLS, 'train.py'), project, '--work-dir',
                     resumed, '--no-validate', '--resume'], REPO_ROOT)
    assert 'resumed epoch: 1' in (proc.stdout + proc.stderr).lower()

    a = torch.load(osp.join(straight, 'epoch_2.pth'), weights_only=False)
    b = torch.load(osp.join(resumed, 'epoch_2.pth'), weights_only=False)
    assert a['meta']['epoch'] == b['meta']['epoch'] == 2
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, msg=key)
    state_a, state_b = a['optimizer']['state'], b['optimizer']['state']
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        torch.testing.assert_close(state_b[key]['momentum_buffer'],
                                   state_a[key]['momentum_buffer'])
