# Copyright (c) mmltml contributors. All rights reserved.
"""mmpretrain's own tools on mmltml configs (docs/en/useful_tools.md).

Each tool runs as a subprocess on a small synthetic benchmark, from the
copies mmpretrain installs in ``mmpretrain/.mim/tools``. The tests that
train or test a model are ``slow`` (about a minute together).
"""
import glob
import json
import math
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

try:
    import mmpretrain
    STOCK = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')
except ImportError:  # pragma: no cover
    STOCK = ''
pytestmark = pytest.mark.skipif(
    not osp.isfile(osp.join(STOCK, 'train.py')),
    reason='mmpretrain/.mim/tools not installed with mmpretrain')

LMPT = osp.join(REPO_ROOT, 'configs', 'synthetic',
                'lmpt_tinyclip_synthetic.py')
CPRFL = osp.join(REPO_ROOT, 'configs', 'synthetic',
                 'cprfl_resnet18-w16_synthetic.py')
RESNET = osp.join(REPO_ROOT, 'configs', 'synthetic',
                  'resnet18-w16_bce_synthetic.py')


def run(args, cwd):
    """Run a python tool in ``cwd`` (the configs' relative paths)."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    """A small synthetic benchmark laid out as the configs expect."""
    root = str(tmp_path_factory.mktemp('bench'))
    generate_synthetic_lt(osp.join(root, 'data', 'synthetic'), seed=0,
                          image_size=64, max_train_count=12,
                          min_train_count=2, test_per_class=2)
    os.symlink(osp.join(REPO_ROOT, 'checkpoints'),
               osp.join(root, 'checkpoints'))
    return root


@pytest.fixture(scope='module')
def trained(bench):
    """One epoch of LMPT with mmpretrain's stock train.py."""
    work_dir = osp.join(bench, 'work', 'lmpt')
    run([osp.join(STOCK, 'train.py'), LMPT, '--work-dir', work_dir,
         '--cfg-options', 'train_cfg.max_epochs=1',
         'train_cfg.val_interval=1'], bench)
    return work_dir, osp.join(work_dir, 'epoch_1.pth')


def _num_test_images(bench):
    with open(osp.join(bench, 'data', 'synthetic', 'test.txt')) as f:
        return sum(1 for line in f if line.strip())


@pytest.mark.slow  # a training run or a full test pass
def test_stock_train_writes_checkpoint(trained):
    assert osp.isfile(trained[1])


@pytest.mark.slow  # builds the model and starts training
def test_stock_train_refuses_a_cached_set_without_its_hook(bench, tmp_path):
    """A child config whose custom_hooks drop FeatureCacheHook stops at the
    first batch of mmpretrain's own train.py, saying what to add."""
    from tests.test_reliability.test_feature_cache_hook_required import (
        FIX, write_child_config)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        [sys.executable, osp.join(STOCK, 'train.py'),
         write_child_config(str(tmp_path)), '--work-dir',
         str(tmp_path / 'work')],
        cwd=bench, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert 'epoch was never set' in proc.stderr and FIX in proc.stderr, \
        proc.stderr[-3000:]
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


@pytest.mark.slow  # a training run or a full test pass
def test_stock_test_loads_checkpoint_and_draws(bench, trained, tmp_path):
    """Stock test.py loads the stock-written checkpoint (weights-only) and
    draws every 5th sample of a cached-feature (CLIP) config."""
    show = str(tmp_path / 'show')
    run([osp.join(STOCK, 'test.py'), LMPT, trained[1], '--work-dir',
         str(tmp_path / 'w'), '--show-dir', show, '--interval', '5'], bench)
    assert len(os.listdir(show)) == math.ceil(_num_test_images(bench) / 5)


@pytest.mark.slow  # a training run or a full test pass
def test_our_test_draws_cprfl(bench, tmp_path):
    show = str(tmp_path / 'show')
    run([osp.join(REPO_ROOT, 'tools', 'test.py'), CPRFL, '--work-dir',
         str(tmp_path / 'w'), '--show-dir', show, '--interval', '7'], bench)
    assert len(os.listdir(show)) == math.ceil(_num_test_images(bench) / 7)


@pytest.mark.slow  # a training run or a full test pass
def test_our_test_tta(bench, tmp_path):
    """--tta averages the scores of each image and its flip."""
    out = str(tmp_path / 'metrics.json')
    run([osp.join(REPO_ROOT, 'tools', 'test.py'), RESNET, 'none', '--tta',
         '--work-dir', str(tmp_path / 'w'), '--out', out, '--out-item',
         'metrics'], bench)
    with open(out) as f:
        assert 0 < json.load(f)['lt/mAP'] <= 100


def test_browse_dataset_shows_images_of_cached_config(bench, tmp_path):
    out = str(tmp_path / 'browse')
    run([osp.join(STOCK, 'visualization', 'browse_dataset.py'), LMPT, '-o',
         out, '-n', '3', '-m', 'original', '--not-show'], bench)
    assert sorted(os.listdir(out)) == ['000000.png', '000001.png',
                                       '000002.png']


@pytest.mark.slow  # a training run or a full test pass
def test_analyze_logs_plots_lt_keys(trained, tmp_path):
    scalars = glob.glob(osp.join(trained[0], '*', 'vis_data',
                                 'scalars.json'))[0]
    out = str(tmp_path / 'curve.png')
    run([osp.join(STOCK, 'analysis_tools', 'analyze_logs.py'), 'plot_curve',
         scalars, '--keys', 'lt/mAP', 'lt/mAP_tail', '--out', out],
        REPO_ROOT)
    assert osp.getsize(out) > 0


def test_get_flops(bench):
    proc = run([osp.join(STOCK, 'analysis_tools', 'get_flops.py'), RESNET,
                '--shape', '64'], bench)
    assert 'Flops:' in proc.stdout and 'Params:' in proc.stdout


def test_print_config(bench):
    proc = run([osp.join(STOCK, 'misc', 'print_config.py'), LMPT], bench)
    assert "type='CLIPPromptClassifier'" in proc.stdout


@pytest.mark.slow  # a training run or a full test pass
def test_eval_metric_matches_sklearn(bench, trained, tmp_path):
    """Offline AP of dumped predictions equals sklearn's macro AP."""
    preds = str(tmp_path / 'preds.pkl')
    run([osp.join(REPO_ROOT, 'tools', 'test.py'), LMPT, trained[1],
         '--work-dir', str(tmp_path / 'w'), '--out', preds], bench)
    proc = run([osp.join(STOCK, 'analysis_tools', 'eval_metric.py'), preds,
                '--metric', 'type=AveragePrecision'], bench)
    with open(preds, 'rb') as f:
        samples = pickle.load(f)
    scores = np.stack([s['pred_score'].numpy() for s in samples])
    target = np.zeros_like(scores)
    for i, s in enumerate(samples):
        target[i, s['gt_label'].numpy()] = 1
    present = target.sum(0) > 0
    expected = 100 * average_precision_score(
        target[:, present], scores[:, present], average='macro')
    reported = float(proc.stdout.split("'multi-label/mAP':")[1].split('}')[0])
    assert reported == pytest.approx(expected, abs=1e-3)
