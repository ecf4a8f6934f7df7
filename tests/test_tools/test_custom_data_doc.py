# Copyright (c) mmltml contributors. All rights reserved.
"""docs/en/custom_data.md runs as written, offline: every ``bash`` block of
the guide, in order, in a workspace holding the repository's tools, configs
and tiny CLIP and the config the guide writes (the generated stand-in data,
the long-tailed split, the statistics, training and testing with the tiny
CLIP)."""
import os
import os.path as osp
import re
import subprocess

import numpy as np
import pytest

from tests._tiny_setup import REPO_ROOT
from tests.test_tools.test_doc_configs import DOC, doc_configs, link_configs


def bash_blocks() -> list:
    with open(DOC) as f:
        return re.findall(r'```bash\n(.*?)```', f.read(), re.S)


def test_the_guide_commands_name_existing_tools():
    blocks = bash_blocks()
    assert len(blocks) >= 4
    for tool in re.findall(r'python (tools/\S+\.py)', '\n'.join(blocks)):
        assert osp.isfile(osp.join(REPO_ROOT, tool)), tool
    rel_path = doc_configs()[0]
    assert any(rel_path in block for block in blocks)


def _chance(path: str, num_classes: int) -> float:
    """Mean positive rate of a list file (the AP of random scores)."""
    rows = []
    with open(path) as f:
        for line in f:
            row = np.zeros(num_classes)
            row[[int(i) for i in line.split()[1:]]] = 1
            rows.append(row)
    return 100 * float(np.mean(rows))


@pytest.mark.slow
def test_the_guide_runs_end_to_end(tmp_path):
    link_configs(tmp_path)
    for name in ('tools', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), tmp_path / name)
    rel_path, block = doc_configs()[:2]
    (tmp_path / rel_path).write_text(block)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    outputs = []
    for commands in bash_blocks():
        proc = subprocess.run(['bash', '-e', '-c', commands], cwd=tmp_path,
                              env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, (commands, proc.stdout[-3000:],
                                      proc.stderr[-3000:])
        outputs.append(proc.stdout + proc.stderr)
    data = tmp_path / 'data' / 'mydata'
    full = (data / 'train.txt').read_text().splitlines()
    split = (data / 'mydata_lt_train.txt').read_text().splitlines()
    assert set(split) < set(full)
    assert 'classes within max(2, 10 %) of their target' in '\n'.join(
        outputs)
    assert (tmp_path / 'work_dirs' / 'lmpt_tinyclip_mydata' /
            'epoch_5.pth').is_file()
    metrics = dict(re.findall(r'lt/(mAP\w*): ([\d.]+)', outputs[-1]))
    assert set(metrics) == {'mAP', 'mAP_head', 'mAP_medium', 'mAP_tail'}
    assert float(metrics['mAP']) > 3 * _chance(str(data / 'test.txt'), 24)
