# Copyright (c) mmltml contributors. All rights reserved.
"""A checkpoint that does not fit the config is refused, by every path.

Before, mmengine loaded it non-strictly: ``tools/test.py`` with the LMPT
checkpoint of another prompt length or class count left the prompts at
their initial values, logged "size mismatch" and reported the zero-shot
mAP with exit status 0; the same in ``tools/misc/predict.py``, the
inferencer and ``load_from``. Now each path names the keys, both shapes
and the likely cause, loads nothing and leaves the checkpoint as it was.

One LMPT epoch on the synthetic benchmark (tiny CLIP) gives the
checkpoint: 24 classes, the context ``'a photo of a'`` (4 tokens) of the
tiny CLIP's text width.
"""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmltml.apis import MultiLabelInferencer
from mmltml.engine.checkpoint_fit import (CheckpointMismatchError,
                                          check_checkpoint_fits,
                                          compare_state_dict)
from tests._tiny_setup import REPO_ROOT
from tests.test_reliability._synthetic import BENCHMARK
from tests.test_reliability._utils import build_runner_from, model_state

LMPT = 'configs/synthetic/lmpt_tinyclip_synthetic.py'
#: the same method with the 3-token context 'there is a'
LMPT_3CTX = 'configs/synthetic/lmpt_tinyclip_ctx-there-is_synthetic.py'
CTX = 'backbone.prompt_learner.ctx'
TOOLS = osp.join(REPO_ROOT, 'tools')


def _text_width() -> int:
    with open(osp.join(REPO_ROOT, 'checkpoints',
                       'tinyclip_synthetic.json')) as f:
        return json.load(f)['model_cfg']['text_cfg']['width']


def _num_classes(root: str) -> int:
    with open(osp.join(root, BENCHMARK, 'labels.txt')) as f:
        return sum(1 for line in f if line.strip())


def _sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _run(args, cwd):
    return subprocess.run(
        [sys.executable] + args, cwd=cwd, capture_output=True, text=True,
        timeout=300, env=dict(os.environ, PYTHONPATH=REPO_ROOT))


@pytest.fixture(scope='module')
def trained(synthetic_root, tmp_path_factory):
    """The checkpoint of one LMPT epoch, and its sha256."""
    work = str(tmp_path_factory.mktemp('lmpt'))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(synthetic_root)
        build_runner_from(LMPT, work,
                          options={'train_cfg.max_epochs': 1}).train()
    ckpt = osp.join(work, 'epoch_1.pth')
    return ckpt, _sha256(ckpt)


@pytest.fixture
def in_root(synthetic_root, monkeypatch):
    monkeypatch.chdir(synthetic_root)
    return synthetic_root


def test_a_fitting_checkpoint_loads_without_the_frozen_clip(trained,
                                                            in_root,
                                                            tmp_path):
    """The control: the checkpoint holds the prompts only (the frozen CLIP
    is rebuilt) and loads through load_from into the model."""
    ckpt, _ = trained
    stored = torch.load(ckpt, weights_only=False)['state_dict']
    assert list(stored) == [CTX]
    runner = build_runner_from(LMPT, str(tmp_path),
                               options={'load_from': ckpt})
    runner.test()
    assert torch.equal(model_state(runner)[CTX], stored[CTX])


def test_tools_test_refuses_a_checkpoint_of_another_prompt_length(
        trained, in_root, tmp_path):
    ckpt, digest = trained
    classes, width = _num_classes(in_root), _text_width()
    proc = _run([osp.join(TOOLS, 'test.py'), LMPT_3CTX, ckpt, '--work-dir',
                 str(tmp_path)], in_root)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (f'Checkpoint {ckpt} does not fit the model of this config '
            '(nothing was loaded)') in log
    assert (f'shape of {CTX}: checkpoint [{classes}, 4, {width}], model '
            f'[{classes}, 3, {width}]') in log
    assert ("likely cause: the checkpoint was trained with model.backbone."
            "prompt_learner.ctx_init='a photo of a', this config has "
            "'there is a'") in log
    assert 'lt/mAP' not in log  # nothing was evaluated
    assert _sha256(ckpt) == digest


@pytest.mark.slow
def test_predict_refuses_it_too(trained, in_root):
    ckpt, digest = trained
    classes, width = _num_classes(in_root), _text_width()
    image = osp.join(BENCHMARK, 'test', '000000.png')
    proc = _run([osp.join(TOOLS, 'misc', 'predict.py'), LMPT_3CTX, ckpt,
                 image], in_root)
    assert proc.returncode != 0
    assert (f'shape of {CTX}: checkpoint [{classes}, 4, {width}], model '
            f'[{classes}, 3, {width}]') in proc.stderr
    assert proc.stdout == ''  # no prediction from initial prompts
    assert _sha256(ckpt) == digest


def _subset_benchmark(root: str, num_classes: int) -> str:
    """``data/first<N>``: the benchmark restricted to its first classes
    (images listed with their remaining labels) and a config for it."""
    src, dst = osp.join(root, BENCHMARK), osp.join(root, 'data',
                                                   f'first{num_classes}')
    os.makedirs(dst)
    for folder in ('train', 'test'):
        os.symlink(osp.join(src, folder), osp.join(dst, folder))
    with open(osp.join(src, 'labels.txt')) as f:
        labels = f.read().splitlines()[:num_classes]
    with open(osp.join(dst, 'labels.txt'), 'w') as f:
        f.write('\n'.join(labels) + '\n')
    kept = set()
    for name in ('train.txt', 'test.txt'):
        lines = []
        with open(osp.join(src, name)) as f:
            for line in f:
                path, *ids = line.split()
                ids = [i for i in ids if int(i) < num_classes]
                if ids:
                    lines.append(' '.join([path] + ids))
                    kept.add(path)
        with open(osp.join(dst, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(osp.join(src, 'captions.txt')) as f:
        captions = [line for line in f if line.split()[0] in kept]
    with open(osp.join(dst, 'captions.txt'), 'w') as f:
        f.writelines(captions)
    cfg = osp.join(root, f'lmpt_first{num_classes}.py')
    with open(cfg, 'w') as f:
        f.write(f"""_base_ = [{osp.join(root, LMPT)!r}]
data_root = {dst!r}
class_stats = dict(ann_file=data_root + '/train.txt',
                   label_file=data_root + '/labels.txt')
data_preprocessor = dict(num_classes={num_classes})
model = dict(backbone=dict(classnames=data_root + '/labels.txt'),
             head=dict(loss=dict(class_stats=class_stats),
                       cse_loss=dict(class_stats=class_stats)))
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
val_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
test_dataloader = val_dataloader
val_evaluator = dict(class_stats=class_stats)
test_evaluator = val_evaluator
""")
    return cfg


def test_load_from_of_another_class_count_stops_before_training(
        trained, synthetic_root, tmp_path, monkeypatch):
    ckpt, digest = trained
    classes, width = _num_classes(synthetic_root), _text_width()
    root = str(tmp_path)
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(synthetic_root, name), osp.join(root, name))
    os.makedirs(osp.join(root, 'data'))
    os.symlink(osp.join(synthetic_root, BENCHMARK),
               osp.join(root, BENCHMARK))
    cfg = _subset_benchmark(root, classes - 4)
    monkeypatch.chdir(root)
    work = osp.join(root, 'work')
    runner = build_runner_from(cfg, work, options={'load_from': ckpt})
    with pytest.raises(CheckpointMismatchError) as error:
        runner.train()
    message = str(error.value)
    assert (f'shape of {CTX}: checkpoint [{classes}, 4, {width}], model '
            f'[{classes - 4}, 4, {width}]') in message
    assert (f"likely cause: another class count: the checkpoint was trained "
            f"on {classes} classes (meta['class_stats']), this config has "
            f'{classes - 4}') in message
    assert runner.iter == 0
    assert not [f for f in os.listdir(work) if f.endswith('.pth')]
    assert _sha256(ckpt) == digest


def test_inferencer_refuses_a_checkpoint_of_another_clip(trained, in_root,
                                                         tmp_path):
    """The prompts fit in shape, but were learnt on another frozen CLIP."""
    ckpt, _ = trained
    weights = torch.load('checkpoints/tinyclip_synthetic.pth',
                         weights_only=True)
    other = str(tmp_path / 'tinyclip_other.pth')
    torch.save({k: v * 1.01 if v.is_floating_point() else v
                for k, v in weights.items()}, other)
    cfg = Config.fromfile(LMPT)
    cfg.model.backbone.clip_pretrained = other
    with pytest.raises(CheckpointMismatchError) as error:
        MultiLabelInferencer(cfg, pretrained=ckpt, device='cpu')
    message = str(error.value)
    assert ("likely cause: another CLIP model: the checkpoint was trained "
            "with model.backbone.clip_pretrained='checkpoints/"
            f"tinyclip_synthetic.pth', this config has {other!r}") in message
    assert 'shape of' not in message  # the shapes fit

    infer = MultiLabelInferencer(LMPT, pretrained=ckpt, device='cpu')
    stored = torch.load(ckpt, weights_only=False)['state_dict'][CTX]
    assert torch.equal(infer.model.state_dict()[CTX], stored)


def test_what_counts_as_a_misfit(trained, in_root):
    """Missing, unexpected, mis-shaped and non-finite entries; the frozen
    CLIP weights are neither required nor refused, and the ``module.``
    prefix of DDP-wrapped models is ignored (as by mmengine)."""
    ckpt, _ = trained
    model = MODELS.build(Config.fromfile(LMPT).model)
    ctx = torch.load(ckpt, weights_only=False)['state_dict'][CTX]
    frozen = {f'backbone.clip.{k}': v
              for k, v in model.backbone.clip.state_dict().items()}
    assert frozen and not set(frozen) & set(model.state_dict())
    check_checkpoint_fits(model, {'state_dict': {CTX: ctx}}, 'a.pth')
    check_checkpoint_fits(model, {'state_dict': {CTX: ctx, **frozen}},
                          'a.pth')
    check_checkpoint_fits(model, {f'module.{CTX}': ctx}, 'a.pth')

    assert compare_state_dict(model, {}).missing == [CTX]
    fit = compare_state_dict(model, {CTX: ctx, 'head.fc.weight': ctx})
    assert fit.unexpected == ['head.fc.weight'] and not fit.missing
    some_frozen = next(iter(frozen))
    fit = compare_state_dict(model, {CTX: ctx[:-1], some_frozen:
                                     frozen[some_frozen][..., :1]})
    assert fit.mismatched == [
        (CTX, tuple(ctx[:-1].shape), tuple(ctx.shape)),
        (some_frozen, tuple(frozen[some_frozen][..., :1].shape),
         tuple(frozen[some_frozen].shape))]
    nan = ctx.clone()
    nan[0, 0, 0] = float('nan')
    with pytest.raises(CheckpointMismatchError,
                       match=f'NaN or inf values \\(1\\): {CTX}'):
        check_checkpoint_fits(model, {'state_dict': {CTX: nan}}, 'a.pth')


def test_keys_renamed_by_the_model_on_loading_fit(trained, in_root):
    """A module's load pre-hook that renames the key of older checkpoints
    (as heads do when their layout changes) is applied before the check,
    as by the load itself."""
    ckpt, _ = trained
    model = MODELS.build(Config.fromfile(LMPT).model)
    ctx = torch.load(ckpt, weights_only=False)['state_dict'][CTX]
    old = 'backbone.prompt_learner.context'

    def rename(module, state_dict, prefix, *args):
        if f'{prefix}context' in state_dict:
            state_dict[f'{prefix}ctx'] = state_dict.pop(f'{prefix}context')

    with pytest.raises(CheckpointMismatchError, match=f'not in the model '
                       f'\\(1\\): {old}'):
        check_checkpoint_fits(model, {old: ctx}, 'old.pth')
    model.backbone.prompt_learner.register_load_state_dict_pre_hook(rename)
    check_checkpoint_fits(model, {old: ctx}, 'old.pth')
    model.load_state_dict({old: ctx}, strict=False)
    assert torch.equal(model.state_dict()[CTX], ctx)
