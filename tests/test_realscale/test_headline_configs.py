# Copyright (c) mmltml contributors. All rights reserved.
"""Real-scale tier: the headline configs at full size through the tools.

LMPT ViT-B/16 (COCO-LT, VOC-LT), CoOp ViT-B/16, zero-shot CLIP ViT-B/16,
LM-CLIP ViT-B/16 (the whole CLIP trained: both towers from one random
weights file, the OccurrenceWeightedSampler over the 16 training images),
CPRFL ResNet-101 at 448 px, HP-DVAL stage 1 (CLIP ViT-B/16 student and
text tower fine-tuned, released preset) and LT-GCN CLIP RN50 (image tower
fine-tuned, GCN 1024-2048-2048-1024) are built as the configs define
them, with
random weights and CLIP's logit scale (100), trained for two iterations
with ``tools/train.py`` on stand-in COCO-sized JPEGs listed like the
official files, and tested with ``tools/test.py`` on a few dozen of them
(``tests/test_realscale/_setup.py``). Each run checks that the losses are
finite, that the reported group mAPs equal those computed here with
sklearn from the head's raw logits (caught by a forward hook,
``logit_dump.py``), and that the checkpoint reloads and tests to the
numbers of the last in-training evaluation (LT-GCN also without its
training list, its label graph coming from the checkpoint). At CLIP's
scale many logits
are above 16.6, where an fp32 sigmoid is exactly 1.0 (checked), so a
metric that ranked images by sigmoid scores would tie them and fail the
metric check. Wall time and peak resident
memory of each tool run are printed (``pytest -s``); docs/benchmarks.md
records them.

Slow (minutes on two CPU cores): run with
``python -m pytest -m slow tests/test_realscale``.
"""
import glob
import json
import math
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from tests._tiny_setup import REPO_ROOT
from tests.conftest import LTML_DIR
from tests.test_realscale._setup import (CLIP_LOGIT_SCALE, DATASETS,
                                         clip_model_names, make_dataset,
                                         run_measured, train_class_counts,
                                         write_config, write_random_clip)

pytestmark = pytest.mark.slow

TOOLS = osp.join(REPO_ROOT, 'tools')
GROUP_KEYS = ('lt/mAP', 'lt/mAP_head', 'lt/mAP_medium', 'lt/mAP_tail')
NUM_TEST = 32
#: fp32 sigmoid(x) rounds to exactly 1.0 for x above about 16.6
SIGMOID_ONE = 16.7
#: name: (config, dataset, trained, training images, train / test batch)
RUNS = {
    'lmpt_vitb16_coco-lt':
    ('configs/lmpt/lmpt_vitb16_coco-lt.py', 'coco', True, 16, 8, 16),
    'lmpt_vitb16_voc-lt':
    ('configs/lmpt/lmpt_vitb16_voc-lt.py', 'voc', True, 16, 8, 16),
    'coop_vitb16_coco-lt':
    ('configs/coop/coop_vitb16_coco-lt.py', 'coco', True, 16, 8, 16),
    'clip_vitb16_zeroshot_coco-lt':
    ('configs/clip/clip_vitb16_zeroshot_coco-lt.py', 'coco', False, 0, 0,
     16),
    'lmclip_vitb16_coco-lt':
    ('configs/lmclip/lmclip_vitb16_coco-lt.py', 'coco', True, 16, 8, 16),
    'cprfl_r101_coco-lt':
    ('configs/cprfl/cprfl_r101_coco-lt.py', 'coco', True, 8, 4, 16),
    'hpdval_clip-vitb16_released-stage1_coco-lt':
    ('configs/hpdval/hpdval_clip-vitb16_released-stage1_coco-lt.py', 'coco',
     True, 8, 4, 16),
    'lt-gcn_rn50_voc-lt':
    ('configs/labelgcn/lt-gcn_rn50_voc-lt.py', 'voc', True, 16, 8, 16),
}
TRAINED = [name for name, spec in RUNS.items() if spec[2]]
#: runs whose logits are CLIP's logit scale times cosines (HP-DVAL fuses
#: unit views; LT-GCN's scale is 10)
CLIP_RUNS = [name for name in RUNS
             if not name.startswith(('cprfl', 'hpdval', 'lt-gcn'))]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Data folders (COCO-LT, VOC-LT), a feature-cache folder and random
    weights files (written on first use)."""
    root = str(tmp_path_factory.mktemp('realscale'))
    ltml = LTML_DIR if osp.isdir(LTML_DIR) else None
    num_train = max(spec[3] for spec in RUNS.values())
    for name in DATASETS:
        make_dataset(root, name, ltml, num_train, NUM_TEST)
    return dict(root=root, weights={}, cache=osp.join(root, 'feature_cache'))


def _weights(workspace, base):
    for name in clip_model_names(base):
        if name not in workspace['weights']:
            workspace['weights'][name] = write_random_clip(
                osp.join(workspace['root'], f'{name}_random.pth'), name)
    return workspace['weights']


def _json_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _only(pattern):
    files = sorted(glob.glob(pattern))
    assert len(files) == 1, (pattern, files)
    return files[0]


@pytest.fixture(scope='module')
def results():
    """Runs done in this module, by name (each config runs once, whatever
    the order of the tests)."""
    return {}


@pytest.fixture
def run(request, workspace, results, tmp_path_factory):
    """Train (if the config trains) and test one headline config; returns
    its metrics, logit dumps and measurements."""
    name = request.param
    if name not in results:
        try:
            results[name] = _run(name, workspace, tmp_path_factory)
        except Exception as error:  # not rerun for the next test
            results[name] = error
            raise
    if isinstance(results[name], Exception):
        pytest.fail(f'the {name} run failed (see its first test): '
                    f'{results[name]!r}'[:2000])
    return results[name]


def _run(name, workspace, tmp_path_factory):
    base, dataset, trained, num_train, train_batch, test_batch = RUNS[name]
    tmp = tmp_path_factory.mktemp(name)
    cfg = write_config(str(tmp / 'cfg.py'), base, _weights(workspace, base),
                       workspace['cache'], num_train, train_batch,
                       test_batch)
    result = dict(name=name, dataset=dataset, cfg=cfg, measured={},
                  data_dir=osp.join(workspace['root'], 'data', dataset))
    test_args = [osp.join(TOOLS, 'test.py'), cfg]
    if trained:
        work = str(tmp / 'train')
        result['measured']['train'] = run_measured(
            [osp.join(TOOLS, 'train.py'), cfg, '--work-dir', work],
            workspace['root'])
        result['scalars'] = _json_lines(
            _only(osp.join(work, '*', 'vis_data', 'scalars.json')))
        result['val_logits'] = torch.load(
            osp.join(work, 'logits', 'val_0.pt'), weights_only=False)
        test_args.append(osp.join(work, 'epoch_1.pth'))
    test_work = str(tmp / 'test')
    result['measured']['test'] = run_measured(
        test_args + ['--work-dir', test_work], workspace['root'])
    with open(_only(osp.join(test_work, '*', '*.json'))) as f:
        result['test_metrics'] = json.load(f)
    result['test_logits'] = torch.load(
        osp.join(test_work, 'logits', 'test_0.pt'), weights_only=False)
    for step, (output, secs, mib) in result['measured'].items():
        cached = [line.split(' - ')[-1] for line in output.splitlines()
                  if 'Cached' in line and 'view(s)' in line]
        print(f'\n[realscale] {name} {step}: {secs:.1f} s wall, '
              f'peak RSS {mib:.0f} MiB', *cached, sep='; ')
    return result


def _group_map_from_logits(logits, labels, counts):
    """Per-class sklearn AP of the logits (classes with a positive), and
    the means over all classes and the LTML groups of the training counts
    (head n >= 100, medium 20 <= n < 100, tail n < 20), in %."""
    target = np.zeros(logits.shape, dtype=np.int64)
    for row, ls in enumerate(labels):
        target[row, ls] = 1
    ap = np.array([
        average_precision_score(target[:, c], logits[:, c])
        if target[:, c].any() else np.nan for c in range(logits.shape[1])
    ]) * 100
    groups = dict(
        head=counts >= 100, medium=(counts >= 20) & (counts < 100),
        tail=counts < 20)
    out = {'lt/mAP': np.nanmean(ap)}
    for group, mask in groups.items():
        values = ap[mask & np.isfinite(ap)]
        out[f'lt/mAP_{group}'] = values.mean() if values.size else np.nan
    return out


def _records(dump):
    records = dump['records']
    logits = torch.stack([r['logits'] for r in records]).double().numpy()
    return records, logits


@pytest.mark.parametrize('run', TRAINED, indirect=True)
def test_training_losses_are_finite(run):
    losses = [r for r in run['scalars'] if 'loss' in r]
    assert len(losses) == 2, losses  # two iterations of one epoch
    for record in losses:
        values = {k: v for k, v in record.items() if k.startswith('loss')}
        assert values and all(math.isfinite(v) for v in values.values()), \
            record


@pytest.mark.parametrize('run', list(RUNS), indirect=True)
def test_metric_equals_sklearn_on_logits(run):
    """The reported group mAPs are those of the raw logits: ranking by
    fp32 sigmoids, which round to 1.0 above ~16.6, would tie images."""
    records, logits = _records(run['test_logits'])
    assert len(records) == NUM_TEST
    scores = torch.stack([r['pred_score'] for r in records])
    torch.testing.assert_close(
        scores, torch.sigmoid(torch.from_numpy(logits).float()))
    num_classes = logits.shape[1]
    counts = train_class_counts(run['data_dir'], run['dataset'], num_classes)
    expected = _group_map_from_logits(
        logits, [r['gt_label'] for r in records], counts)
    for key in GROUP_KEYS:  # a group without evaluable class: not reported
        if np.isnan(expected[key]):
            assert key not in run['test_metrics'], key
        else:
            np.testing.assert_allclose(run['test_metrics'][key],
                                       expected[key], rtol=0, atol=1e-6,
                                       err_msg=key)


@pytest.mark.parametrize('run', CLIP_RUNS, indirect=True)
def test_clip_logits_use_clips_scale_and_saturate_sigmoids(run):
    """The CLIP runs are at CLIP's temperature, where some logits are
    beyond what an fp32 sigmoid can tell apart (what the metric test
    guards against)."""
    dump = run['test_logits']
    _, logits = _records(dump)
    assert dump['logit_scale'] == pytest.approx(CLIP_LOGIT_SCALE, rel=1e-5)
    assert np.abs(logits).max() <= CLIP_LOGIT_SCALE * (1 + 1e-5)
    assert (logits > SIGMOID_ONE).any(), (logits.min(), logits.max())


@pytest.mark.parametrize('run', TRAINED, indirect=True)
def test_checkpoint_reloads_to_the_same_numbers(run):
    """tools/test.py on the saved checkpoint gives the logits and group
    mAPs of the evaluation at the end of training."""
    val = [r for r in run['scalars'] if GROUP_KEYS[0] in r][-1]
    reported = [key for key in GROUP_KEYS if key in val]
    assert reported == [k for k in GROUP_KEYS if k in run['test_metrics']]
    for key in reported:
        np.testing.assert_allclose(run['test_metrics'][key], val[key],
                                   rtol=0, atol=1e-9, err_msg=key)
    val_records, val_logits = _records(run['val_logits'])
    test_records, test_logits = _records(run['test_logits'])
    assert [r['img_path'] for r in val_records] == \
        [r['img_path'] for r in test_records]
    np.testing.assert_allclose(test_logits, val_logits, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    'run', ['hpdval_clip-vitb16_released-stage1_coco-lt'], indirect=True)
def test_hpdval_scores_fuse_two_unit_views(run):
    """HP-DVAL's logits are w * a / |a| + (1 - w) * b / |b| over the
    classes: each image's score vector has norm at most 1, and the random
    towers of the run give non-degenerate scores."""
    _, logits = _records(run['test_logits'])
    norms = np.linalg.norm(logits, axis=1)
    assert (norms <= 1 + 1e-5).all(), norms.max()
    assert (norms > 0.1).all(), norms.min()
    losses = [r for r in run['scalars'] if 'loss_cls' in r]
    assert losses and 'loss_kd' not in losses[0]  # the released preset


@pytest.mark.parametrize('run', ['lt-gcn_rn50_voc-lt'], indirect=True)
def test_lt_gcn_tests_without_its_training_list(run, tmp_path):
    """tools/test.py on the LT-GCN checkpoint in a copy of the data folder
    without the training list: the class statistics come from the
    checkpoint's meta, the label graph from its ``head.adapter.adjacency``
    (fine-tuned image tower and GCN included), and the metrics are those of
    the run with the list."""
    ckpt = torch.load(osp.join(osp.dirname(run['cfg']), 'train',
                               'epoch_1.pth'), map_location='cpu',
                      weights_only=False)
    state = ckpt['state_dict']
    graph = state['head.adapter.adjacency']
    assert graph.shape == (20, 20) and torch.isfinite(graph).all()
    # LT-GCN's VOC-LT graph: 0.8 on the diagonal, p = 0.2 off it
    torch.testing.assert_close(graph.diagonal(), torch.full((20, ), 0.8))
    torch.testing.assert_close(graph.sum(1), torch.ones(20))
    assert any(k.startswith('backbone.clip.visual.') for k in state)
    root = tmp_path / 'root'
    shutil.copytree(osp.dirname(run['data_dir']), root / 'data')
    os.remove(root / 'data' / 'voc' / 'voc_lt_train.txt')
    work = str(tmp_path / 'test')
    run_measured([osp.join(TOOLS, 'test.py'), run['cfg'],
                  osp.join(osp.dirname(run['cfg']), 'train', 'epoch_1.pth'),
                  '--work-dir', work], str(root))
    with open(_only(osp.join(work, '*', '*.json'))) as f:
        metrics = json.load(f)
    for key in GROUP_KEYS:
        if key in run['test_metrics']:
            np.testing.assert_allclose(metrics[key],
                                       run['test_metrics'][key], rtol=0,
                                       atol=1e-9, err_msg=key)
