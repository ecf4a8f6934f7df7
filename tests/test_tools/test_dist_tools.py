# Copyright (c) mmltml contributors. All rights reserved.
"""The tools run distributed on CPU (gloo): 2 processes train and evaluate
mmltml's components like 1; and resume from their own checkpoints on
current torch."""
import glob
import json
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from tests._tiny_setup import REPO_ROOT, free_port, make_tiny_project, run_tool

TOOLS = osp.join(REPO_ROOT, 'tools')


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """The plain mmpretrain classifier project (resume test)."""
    return make_tiny_project(str(tmp_path_factory.mktemp('tiny')))


# ---------------------------------------------------------------------------
# 1 process vs 2 gloo processes with mmltml's components
# ---------------------------------------------------------------------------
LMPT = osp.join(REPO_ROOT, 'configs', 'synthetic',
                'lmpt_tinyclip_synthetic.py')
TINY_CLIP = osp.join(REPO_ROOT, 'checkpoints', 'tinyclip_synthetic.pth')
CTX = 'backbone.prompt_learner.ctx'
#: ClassAwareSampler epoch: floor(max n_c * C / reduce) = 8 * 24 / 4 images,
#: one step of 48 (1 process) or of 2 x 24 (2 processes).
EPOCH = 48
#: Tolerances of 2 processes x batch 24 against 1 process x batch 48; see
#: test_two_processes_train_and_evaluate_like_one.
UPDATE_RTOL = 1e-4
METRIC_ATOL = 0.01  # mAP points
FEATURE_ATOL = 1e-5


def _lmpt_config(root: str, data_root: str) -> str:
    """LMPT with the shipped tiny CLIP on a small synthetic benchmark, the
    class-aware sampler, cached features and GroupMAP with three populated
    groups (the synthetic counts are 2 to 8 images)."""
    stats = dict(ann_file=osp.join(data_root, 'train.txt'),
                 label_file=osp.join(data_root, 'labels.txt'))
    cfg = osp.join(root, 'lmpt.py')
    with open(cfg, 'w') as f:
        f.write(f"""_base_ = [{LMPT!r}]
class_stats = {stats!r}
model = dict(
    backbone=dict(classnames={stats['label_file']!r},
                  clip_pretrained={TINY_CLIP!r}),
    head=dict(loss=dict(class_stats=class_stats),
              cse_loss=dict(class_stats=class_stats)))
# no random flip: each rank would draw its own flips
train_dataloader = dict(
    batch_size={EPOCH},
    sampler=dict(_delete_=True, type='ClassAwareSampler', seed=0),
    dataset=dict(dataset=dict(data_root={data_root!r}, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs', algorithm_keys=['caption'])])))
val_dataloader = dict(batch_size=8,
                      dataset=dict(dataset=dict(data_root={data_root!r})))
test_dataloader = val_dataloader
val_evaluator = dict(class_stats=class_stats, head_thr=6, tail_thr=3)
test_evaluator = val_evaluator
param_scheduler = []
optim_wrapper = dict(optimizer=dict(lr=0.5))
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(max_keep_ckpts=1))
""")
    return cfg


@pytest.fixture(scope='module')
def lmpt(tmp_path_factory):
    from mmltml.benchmarks.synthetic import generate_synthetic_lt
    root = str(tmp_path_factory.mktemp('lmpt'))
    meta = generate_synthetic_lt(osp.join(root, 'data'), seed=0,
                                 max_train_count=8, min_train_count=2,
                                 test_per_class=1)
    assert meta['num_train_images'] == 46
    return root, _lmpt_config(root, meta['out_dir'])


def _logged_metrics(work_dir: str) -> dict:
    """The last GroupMAP metrics logged by the run in ``work_dir``."""
    (scalars, ) = glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f if '"lt/' in line]
    return {k: v for k, v in records[-1].items() if k.startswith('lt/')}


def _cached_features(cache_dir: str) -> torch.Tensor:
    (path, ) = glob.glob(osp.join(cache_dir, 'features_*.pt'))
    return torch.load(path, weights_only=True)


def _initial_ctx(cfg: str) -> torch.Tensor:
    """The prompts training starts from (initialised from "a photo of a":
    the same in every run)."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    return MODELS.build(Config.fromfile(cfg).model).state_dict()[CTX]


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


def _train(cfg, work_dir, gpus=None):
    caches = [f'{loader}.dataset.cache_dir={osp.join(work_dir, loader)}'
              for loader in ('train_dataloader', 'val_dataloader')]
    args = [cfg, '--work-dir', work_dir, '--cfg-options'] + caches
    if gpus is None:
        return run_tool([osp.join(TOOLS, 'train.py')] + args, REPO_ROOT)
    args[1:1] = [str(gpus)]
    args.append(f'train_dataloader.batch_size={EPOCH // gpus}')
    return run_tool(['bash', osp.join(TOOLS, 'dist_train.sh')] + args,
                    REPO_ROOT, port=free_port())


def test_two_processes_train_and_evaluate_like_one(lmpt):
    """LMPT (CLIPPromptBackbone / CLIPPromptHead, DB-Focal + CSE) trained
    with ClassAwareSampler on cached features and evaluated by GroupMAP:
    2 gloo processes x batch 24 against 1 process x batch 48.

    Tolerances: features 1e-5, prompt updates 1e-4 (relative L2), metrics
    0.01 mAP points; the same checkpoint evaluates to the same metrics.
    Why: each epoch is one step over the sampler's whole sequence (a
    function of seed and epoch only), which 2 ranks split into 2 x 24, so
    DDP's mean of the per-rank losses is the single-process batch mean
    (DB-Focal: per-element mean; CSE: per-image sum, batch mean); features
    are encoded in shards and gathered. Only float summation orders differ.

    The images (coloured shapes on textured backgrounds) give features that
    differ strongly from image to image, so serving one image's features
    for another, as a wrong shard order would, changes every result.
    """
    root, cfg = lmpt
    one, two = osp.join(root, 'one'), osp.join(root, 'two')
    _train(cfg, one)
    log = _train(cfg, two, gpus=2)
    assert 'GPU number: 2' in log.stdout + log.stderr

    for loader in ('train_dataloader', 'val_dataloader'):
        feats1 = _cached_features(osp.join(one, loader))
        feats2 = _cached_features(osp.join(two, loader))
        torch.testing.assert_close(feats2, feats1, atol=FEATURE_ATOL,
                                   rtol=0, msg=lambda m: f'{loader}: {m}')
        # the fixture discriminates: another image's features are far off
        shifted = feats1.roll(1, dims=0)
        assert (shifted - feats1).norm() > 0.5 * feats1.norm(), loader

    ctx0 = _initial_ctx(cfg)
    update1 = torch.load(osp.join(one, 'epoch_2.pth'),
                         weights_only=False)['state_dict'][CTX] - ctx0
    update2 = torch.load(osp.join(two, 'epoch_2.pth'),
                         weights_only=False)['state_dict'][CTX] - ctx0
    assert update1.norm() > 1e-2 * ctx0.norm()  # training moved the prompts
    assert (update2 - update1).norm() <= UPDATE_RTOL * update1.norm()

    metrics1, metrics2 = _logged_metrics(one), _logged_metrics(two)
    assert set(metrics1) == {'lt/mAP', 'lt/mAP_head', 'lt/mAP_medium',
                             'lt/mAP_tail'}
    assert not any(np.isnan(v) for v in metrics1.values())
    assert metrics2.keys() == metrics1.keys()
    for key in metrics1:
        assert metrics2[key] == pytest.approx(metrics1[key],
                                              abs=METRIC_ATOL), key

    # the 1-process checkpoint, tested by 2 processes: the 1-process run's
    # own evaluation of it
    double = _test_metrics(cfg, osp.join(one, 'epoch_2.pth'),
                           osp.join(root, 'test2'), gpus=2)
    assert double.keys() == metrics1.keys()
    for key in metrics1:
        assert double[key] == pytest.approx(metrics1[key], abs=1e-6), key


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
