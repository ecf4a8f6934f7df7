# Copyright (c) mmltml contributors. All rights reserved.
"""Through ``tools/test.py``: the zero-shot synthetic config gives the same
group mAP at CLIP's logit scale 100 as at the tiny CLIP's own (17.8), since
AP is invariant to a positive scaling of the logits; ``--out`` keeps the
logits, and sklearn's AP on them reproduces the reported mAP.
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
from sklearn.metrics import average_precision_score

from mmltml.benchmarks.synthetic import generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT

CONFIG = 'configs/synthetic/clip_tinyclip_zeroshot_synthetic.py'


def run_test(workspace, name, *extra):
    """``tools/test.py`` on the zero-shot config; its logged metrics."""
    subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'), CONFIG,
         '--work-dir', name, *extra],
        cwd=workspace, check=True, capture_output=True)
    [log] = glob.glob(str(workspace / name / '*' / '*.json'))
    with open(log) as f:
        return {k: v for k, v in json.load(f).items() if k.startswith('lt/')}


def test_zero_shot_map_does_not_depend_on_the_logit_scale(tmp_path):
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), tmp_path / name)
    generate_synthetic_lt(str(tmp_path / 'data' / 'synthetic'), seed=0)
    own = run_test(tmp_path, 'own')
    clip = run_test(tmp_path, 'clip', '--out', 'preds.pkl', '--cfg-options',
                    'model.head.logit_scale=100')
    assert len(own) == 4 and clip == pytest.approx(own, abs=1e-9)

    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    logits = np.stack([p['pred_logits'].numpy() for p in preds])
    scores = np.stack([p['pred_score'].numpy() for p in preds])
    target = np.stack([p['gt_score'].numpy() for p in preds])
    assert (scores == 1.0).any()  # saturated sigmoids: ties the logits break
    expected = 100 * np.mean([
        average_precision_score(target[:, k], logits[:, k].astype(float))
        for k in range(target.shape[1])
    ])
    assert own['lt/mAP'] == pytest.approx(expected, abs=1e-6)
