# Copyright (c) mmltml contributors. All rights reserved.
"""Recipes in stages: a later stage names the config it continues
(``previous_stage``); tools/train.py refuses it without that stage's
checkpoint, and benchmark_table.py trains the previous stage first and
hands its last checkpoint on."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmltml.utils.stage_cfg import check_previous_stage, previous_stage
from tests._tiny_setup import REPO_ROOT, load_tool

SYNTHETIC = osp.join(REPO_ROOT, 'configs', 'synthetic')
STAGE2 = osp.join(SYNTHETIC, 'hpdval_tinyclip_synthetic.py')
STAGE1 = osp.join(SYNTHETIC, 'hpdval_tinyclip_stage1_synthetic.py')


def test_previous_stage_is_relative_to_the_config(tmp_path):
    assert previous_stage(Config.fromfile(STAGE2), STAGE2) == STAGE1
    assert previous_stage(Config.fromfile(STAGE1), STAGE1) is None
    broken = tmp_path / 'stage2.py'
    broken.write_text("previous_stage = './absent.py'\n")
    with pytest.raises(FileNotFoundError, match='absent.py'):
        previous_stage(Config.fromfile(str(broken)), str(broken))


def test_a_later_stage_needs_load_from_or_resume():
    cfg = Config.fromfile(STAGE2)
    with pytest.raises(ValueError, match='load_from=<its work dir>'):
        check_previous_stage(cfg, STAGE2)
    check_previous_stage(Config(dict(cfg.to_dict(), load_from='x.pth')),
                         STAGE2)
    check_previous_stage(Config(dict(cfg.to_dict(), resume=True)), STAGE2)
    check_previous_stage(Config.fromfile(STAGE1), STAGE1)


def _table_tool():
    return load_tool('analysis_tools', 'benchmark_table.py')


def test_benchmark_table_trains_the_previous_stage_first(tmp_path,
                                                         monkeypatch):
    """Stage 1 is trained (same seed) in a sub-folder, stage 2 trains from
    its last checkpoint, and the test call takes stage 2's checkpoint."""
    tool = _table_tool()
    calls = []

    def fake_call(args, log):
        calls.append(args)
        work_dir = args[args.index('--work-dir') + 1]
        os.makedirs(work_dir, exist_ok=True)
        if args[0].endswith('train.py'):
            open(osp.join(work_dir, 'epoch_1.pth'), 'w').close()
        else:
            with open(args[args.index('--out') + 1], 'w') as f:
                f.write('{"lt/mAP": 1, "lt/mAP_head": 1}')
        return 0.0

    monkeypatch.setattr(tool, '_call', fake_call)
    directory = str(tmp_path / 'run')
    os.makedirs(directory)
    tool.run_one(STAGE2, 3, directory, [])
    stage1_dir = osp.join(directory, 'hpdval_tinyclip_stage1_synthetic')
    (train1, train2, test) = calls
    assert train1[:2] == [osp.join(tool.TOOLS, 'train.py'), STAGE1]
    assert train1[train1.index('--work-dir') + 1] == stage1_dir
    assert 'randomness.seed=3' in train1
    assert not any(a.startswith('load_from=') for a in train1)
    assert train2[1] == STAGE2 and 'randomness.seed=3' in train2
    assert f'load_from={stage1_dir}/epoch_1.pth' in train2
    assert test[0].endswith('test.py')
    assert test[2] == osp.join(directory, 'epoch_1.pth')
    assert not any(a.startswith('load_from=') for a in test)
