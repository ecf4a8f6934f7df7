# Copyright (c) mmltml contributors. All rights reserved.
"""Each config family trains and tests through the tools on CPU, with a
tiny CLIP and a small subset of the official COCO-LT / VOC-LT lists."""
import os.path as osp

import pytest

from tests._tiny_setup import (REPO_ROOT, free_port, make_ltml_subset,
                               run_tool, smoke_config)

TOOLS = osp.join(REPO_ROOT, 'tools')
ONE_EPOCH = dict(train_cfg=dict(max_epochs=1, val_interval=1))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory, ltml_dir):
    root = str(tmp_path_factory.mktemp('ltml'))
    make_ltml_subset(root, ltml_dir, 'coco')
    make_ltml_subset(root, ltml_dir, 'voc')
    return root


def _metric(output, key='lt/mAP'):
    lines = [line for line in output.splitlines() if key in line]
    assert lines, output[-3000:]
    return lines[-1]


@pytest.mark.parametrize('base', [
    'configs/lmpt/lmpt_vitb16_coco-lt.py',
    'configs/lmpt/lmpt_vitb16_token-cse_voc-lt.py',
    'configs/coop/coop_rn50_voc-lt.py',
])
def test_train_then_test(workspace, tmp_path, base):
    cfg = smoke_config(str(tmp_path / 'cfg.py'), base, **ONE_EPOCH)
    work_dir = str(tmp_path / 'work')
    proc = run_tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir',
                     work_dir], workspace)
    out = proc.stdout + proc.stderr
    _metric(out)
    assert 'loss' in out
    # frozen CLIP + deterministic pipelines: cached features are served
    assert 'Cached 2 view(s)' in out and 'Cached 1 view(s)' in out
    proc = run_tool([osp.join(TOOLS, 'test.py'), cfg,
                     osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                     work_dir], workspace)
    _metric(proc.stdout + proc.stderr)


def test_zero_shot_clip_tests_without_checkpoint(workspace, tmp_path):
    cfg = smoke_config(str(tmp_path / 'cfg.py'),
                       'configs/clip/clip_vitb16_zeroshot_coco-lt.py',
                       train=False)
    proc = run_tool([osp.join(TOOLS, 'test.py'), cfg, '--work-dir',
                     str(tmp_path / 'work')], workspace)
    _metric(proc.stdout + proc.stderr)


def test_lmpt_dist_train_two_processes(workspace, tmp_path):
    cfg = smoke_config(str(tmp_path / 'cfg.py'),
                       'configs/lmpt/lmpt_vitb16_coco-lt.py', **ONE_EPOCH)
    proc = run_tool(['bash', osp.join(TOOLS, 'dist_train.sh'), cfg, '2',
                     '--work-dir', str(tmp_path / 'work')], workspace,
                    port=free_port())
    out = proc.stdout + proc.stderr
    assert 'GPU number: 2' in out
    assert 'Cached 2 view(s)' in out
    _metric(out)
