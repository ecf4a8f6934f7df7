# Copyright (c) mmltml contributors. All rights reserved.
"""The large-label-space benchmark end to end through ``tools/train.py``:
LMPT over the 2,000 classes of ``data/synthetic-2k`` with the chunked text
encoder trains, evaluates and saves its 2,000 class-specific contexts, and
its losses, final group mAPs and learned contexts equal those of the same
run with plain autograd over all 2,000 prompts (``text_chunk_size=0``).

The config reads ``data/`` and ``checkpoints/`` relative to the working
directory, so the runs happen in a temporary workspace that links the
repository's ``configs`` and ``checkpoints``.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmltml.benchmarks.end_to_end import last_group_metrics
from mmltml.benchmarks.synthetic import SYNTHETIC_2K, generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT

CONFIG = 'configs/synthetic/lmpt_tinyclip_synthetic-2k.py'
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')


def _train(workspace, chunk: int) -> str:
    work_dir = str(workspace / f'work_chunk{chunk}')
    subprocess.run(
        [sys.executable, TRAIN, CONFIG, '--work-dir', work_dir,
         '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         f'model.backbone.text_chunk_size={chunk}',
         'default_hooks.logger.interval=5'],
        cwd=workspace, check=True, capture_output=True)
    return work_dir


def _losses(work_dir: str) -> list:
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return [(r['step'], r['loss']) for r in records if 'loss' in r]


def _context(work_dir: str) -> torch.Tensor:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    return state['backbone.prompt_learner.ctx']


@pytest.mark.slow
def test_2k_classes_train_and_equal_plain_autograd(tmp_path):
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), tmp_path / name)
    meta = generate_synthetic_lt(
        str(tmp_path / 'data' / 'synthetic-2k'), seed=0, **SYNTHETIC_2K)
    assert meta['groups']['tail'] > 1900 and meta['groups']['head'] > 0
    chunked, plain = _train(tmp_path, 500), _train(tmp_path, 0)

    ctx = _context(chunked)
    assert ctx.shape[0] == 2000
    torch.testing.assert_close(ctx, _context(plain), atol=1e-5, rtol=1e-4)
    losses, plain_losses = _losses(chunked), _losses(plain)
    assert len(losses) >= 6
    assert [s for s, _ in losses] == [s for s, _ in plain_losses]
    for (_, loss), (_, plain_loss) in zip(losses, plain_losses):
        assert loss == pytest.approx(plain_loss, rel=1e-4, abs=1e-6)
    metrics = last_group_metrics(chunked)
    assert metrics == pytest.approx(last_group_metrics(plain), abs=1e-3)
    assert set(metrics) == {'lt/mAP', 'lt/mAP_head', 'lt/mAP_medium',
                            'lt/mAP_tail'}
