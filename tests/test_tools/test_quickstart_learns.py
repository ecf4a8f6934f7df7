# Copyright (c) mmltml contributors. All rights reserved.
"""The README's main job, end to end through the standard tools: on a
freshly generated synthetic benchmark, the shipped tiny CLIP is far above
chance zero-shot, and LMPT trained on it beats zero-shot on total and tail
mAP (one seed; the 3-seed table is in configs/synthetic/README.md).

The configs use paths relative to the working directory (``data/``,
``checkpoints/``), so the run happens in a temporary workspace that links
the repository's ``configs`` and ``checkpoints``.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np

from mmltml.benchmarks.synthetic import class_names, generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT

TABLE_TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                      'benchmark_table.py')
CONFIGS = ('clip_tinyclip_zeroshot_synthetic', 'lmpt_tinyclip_synthetic')


def _chance(root: str, num_classes: int) -> float:
    """Mean positive rate of the test split: the expected AP of random
    scores."""
    labels = []
    with open(osp.join(root, 'test.txt')) as f:
        for line in f:
            row = np.zeros(num_classes)
            row[[int(i) for i in line.split()[1:]]] = 1
            labels.append(row)
    return float(np.mean(labels))


def test_lmpt_beats_zero_shot_on_the_synthetic_benchmark(tmp_path):
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), tmp_path / name)
    root = generate_synthetic_lt(
        str(tmp_path / 'data' / 'synthetic'), seed=0)['out_dir']
    configs = [f'configs/synthetic/{c}.py' for c in CONFIGS]
    subprocess.run(
        [sys.executable, TABLE_TOOL, *configs, '--seeds', '0',
         '--work-dir', 'work', '--out', 'table.md'],
        cwd=tmp_path, check=True, capture_output=True)

    def metrics(config: str) -> dict:
        with open(tmp_path / 'work' / config / 'seed0' / 'metrics.json') as f:
            return json.load(f)

    zero_shot, lmpt = (metrics(c) for c in CONFIGS)
    assert zero_shot['lt/mAP'] > 3 * 100 * _chance(root, len(class_names()))
    assert lmpt['lt/mAP'] > zero_shot['lt/mAP'] + 5
    assert lmpt['lt/mAP_tail'] > zero_shot['lt/mAP_tail']
    table = (tmp_path / 'table.md').read_text()
    assert all(c in table for c in CONFIGS)
