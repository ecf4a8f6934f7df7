# Copyright (c) mmltml contributors. All rights reserved.
"""Common ``tools/train.py`` options that mmengine answers opaquely get one
line that says what to do, and exit status 1, before anything is built.

Before: ``--amp`` on a CPU-only machine ended in mmengine's
``AssertionError``; ``max_epochs`` shorter than the warm-up in
``ValueError: end should be larger than begin, but got begin=4, end=4``;
``--resume`` with nothing to resume started over silently. ``--resume``
without a path keeps mmengine's meaning (resume if there is something to
resume, so job scripts may always pass it) and says that it starts from
scratch.
"""
import os
import os.path as osp
import runpy
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests._tiny_setup import REPO_ROOT, make_tiny_project

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
#: one-epoch linear warm-up, then cosine annealing from epoch 1 (no end)
RESNET = 'configs/synthetic/resnet18-w16_bce_synthetic.py'


def _train_exit(args, monkeypatch) -> str:
    """Run tools/train.py in this process; the message it exits with."""
    monkeypatch.setattr(sys, 'argv', ['train.py'] + args)
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(TRAIN, run_name='__main__')
    return exit_.value.code


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_amp_without_a_gpu(synthetic_root, tmp_path):
    work = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, TRAIN, RESNET, '--amp', '--work-dir', work],
        cwd=synthetic_root, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: --amp (optim_wrapper.type='AmpOptimWrapper') needs a GPU "
        '(CUDA, NPU, MLU or MUSA) and this machine has none: train without '
        '--amp (mixed precision is for accelerators; CPU runs train in '
        'fp32)']
    assert not osp.exists(work)


def test_max_epochs_shorter_than_the_warm_up(synthetic_root, tmp_path,
                                             monkeypatch):
    monkeypatch.chdir(synthetic_root)
    schedulers = Config.fromfile(RESNET).param_scheduler
    begin = schedulers[1]['begin']
    assert schedulers[0]['end'] == begin and 'end' not in schedulers[1]
    work = str(tmp_path / 'work')
    message = _train_exit([RESNET, '--work-dir', work, '--cfg-options',
                           f'train_cfg.max_epochs={begin}'], monkeypatch)
    assert message == (
        f'error: param_scheduler[1] (CosineAnnealingLR) starts at epoch '
        f'{begin}, but training ends after max_epochs={begin}, so it would '
        'never run (mmengine: "end should be larger than begin"): train '
        f'longer (--cfg-options train_cfg.max_epochs={begin + 1} or more), '
        f'or shorten what comes before it (its begin={begin}, e.g. a '
        'warm-up)')
    assert not osp.exists(work)


def test_an_explicit_end_before_begin(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(synthetic_root)
    message = _train_exit([RESNET, '--work-dir', str(tmp_path),
                           '--cfg-options', 'param_scheduler.0.end=0'],
                          monkeypatch)
    assert message == ('error: param_scheduler[0] (LinearLR) has begin=0 '
                       'and end=0: make its end larger than its begin')


def test_resume_of_a_missing_file(synthetic_root, tmp_path, monkeypatch):
    monkeypatch.chdir(synthetic_root)
    missing = str(tmp_path / 'epoch_3.pth')
    message = _train_exit([RESNET, '--work-dir', str(tmp_path / 'work'),
                           '--resume', missing], monkeypatch)
    assert message == f'error: --resume {missing}: no such checkpoint file'


def _log(work):
    (run, ) = [d for d in sorted(os.listdir(work))
               if osp.isdir(osp.join(work, d))][-1:]
    with open(osp.join(work, run, f'{run}.log')) as f:
        return f.read()


def test_resume_with_nothing_to_resume_starts_over_and_says_so(
        tmp_path, monkeypatch):
    project = make_tiny_project(str(tmp_path / 'tiny'), max_epochs=1)
    work = str(tmp_path / 'work')
    monkeypatch.setattr(sys, 'argv', ['train.py', project, '--work-dir',
                                      work, '--resume'])
    runpy.run_path(TRAIN, run_name='__main__')
    assert (f'--resume: no checkpoint to resume in {work} (no '
            'last_checkpoint file there): starting a new run from scratch'
            ) in _log(work)
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))

    # a checkpoint that is not recorded as the latest: named, with the
    # command that resumes it
    os.remove(osp.join(work, 'last_checkpoint'))
    for run in os.listdir(work):  # one log per run in the folder
        if osp.isdir(osp.join(work, run)):
            os.rename(osp.join(work, run), osp.join(tmp_path, run))
    runpy.run_path(TRAIN, run_name='__main__')
    assert ('starting a new run from scratch; to resume one of epoch_1.pth'
            f', pass it: --resume {work}/epoch_1.pth') in _log(work)
