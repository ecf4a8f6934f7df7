# Copyright (c) mmltml contributors. All rights reserved.
"""Each config family trains and tests through the tools on CPU, with a
tiny CLIP and a small subset of the official COCO-LT / VOC-LT lists."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from tests._tiny_setup import (REPO_ROOT, free_port, make_ltml_subset,
                               run_tool, smoke_config)

TOOLS = osp.join(REPO_ROOT, 'tools')
ONE_EPOCH = dict(train_cfg=dict(max_epochs=1, val_interval=1))
CLIP_MEAN = np.array([122.770938, 116.7460125, 104.09373615])
CLIP_STD = np.array([68.5005327, 66.6321579, 70.32316305])


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


def _train(workspace, tmp_path, base):
    cfg = smoke_config(str(tmp_path / 'cfg.py'), base, **ONE_EPOCH)
    work_dir = str(tmp_path / 'work')
    proc = run_tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir',
                     work_dir], workspace)
    return cfg, work_dir, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def lmpt_run(workspace, tmp_path_factory):
    return _train(workspace, tmp_path_factory.mktemp('lmpt'),
                  'configs/lmpt/lmpt_vitb16_coco-lt.py')


def test_lmpt_trains_with_cached_features_and_tests(workspace, lmpt_run):
    cfg, work_dir, out = lmpt_run
    _metric(out)
    assert 'loss_cse' in out and 'cse_active_neg' in out
    # frozen CLIP + deterministic pipelines: cached features are served
    assert 'Cached 2 view(s)' in out and 'Cached 1 view(s)' in out
    proc = run_tool([osp.join(TOOLS, 'test.py'), cfg,
                     osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                     work_dir], workspace)
    _metric(proc.stdout + proc.stderr)


@pytest.mark.parametrize('base', [
    'configs/lmpt/lmpt_vitb16_token-cse_voc-lt.py',
    'configs/coop/coop_rn50_voc-lt.py',
])
def test_train_then_test(workspace, tmp_path, base):
    cfg, work_dir, out = _train(workspace, tmp_path, base)
    _metric(out)
    proc = run_tool([osp.join(TOOLS, 'test.py'), cfg,
                     osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                     work_dir], workspace)
    _metric(proc.stdout + proc.stderr)


def test_lmclip_trains_both_towers_and_tests(workspace, tmp_path):
    """LM-CLIP (the whole tiny CLIP trained, label captions from the VOC-LT
    list lines, occurrence-weighted sampling) through the tools; the
    checkpoint holds both towers and the trained logit scale."""
    from tests._tiny_setup import TINY_CLIP_224
    tiny = dict(clip_model_name=None, clip_pretrained=None,
                clip_model_cfg=TINY_CLIP_224)
    cfg = smoke_config(str(tmp_path / 'cfg.py'),
                       'configs/lmclip/lmclip_rn50_voc-lt.py',
                       model=dict(backbone=tiny,
                                  head=dict(text_embeds=tiny)),
                       optim_wrapper=dict(optimizer=dict(lr=1e-3)),
                       **ONE_EPOCH)
    work_dir = str(tmp_path / 'work')
    proc = run_tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir',
                     work_dir], workspace)
    out = proc.stdout + proc.stderr
    assert 'loss_clip' in out and 'loss_cls' in out
    _metric(out)
    state = torch.load(osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    assert 'head.text_embeds.source.clip.logit_scale' in state
    assert any(k.startswith('backbone.visual.') for k in state)
    assert state['head.text_embeds.source.clip.logit_scale'] != \
        pytest.approx(np.log(1 / 0.07))  # trained from open_clip's init
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


def _expected_scores(cfg, ckpt, image_path):
    """Sigmoid scores computed by hand from the checkpoint's prompts."""
    import mmltml  # noqa: F401
    import torch.nn.functional as F
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    model = MODELS.build(Config.fromfile(cfg).model)
    state = torch.load(ckpt, weights_only=False)['state_dict']
    model.load_state_dict(state, strict=False)
    img = Image.open(image_path).convert('RGB').resize((224, 224),
                                                       Image.BILINEAR)
    x = (np.asarray(img, dtype=np.float64) - CLIP_MEAN) / CLIP_STD
    x = torch.from_numpy(x).float().permute(2, 0, 1)[None]
    clip = model.backbone.clip
    with torch.no_grad():
        text, _ = model.backbone.class_text_features()
        logits = clip.logit_scale.exp() * F.normalize(
            clip.encode_image(x), dim=-1) @ F.normalize(text, dim=-1).t()
    return torch.sigmoid(logits)[0].numpy(), model.backbone.classnames


def test_predict_tool_reports_names_and_scores(workspace, lmpt_run,
                                               monkeypatch):
    cfg, work_dir, _ = lmpt_run
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    with open(osp.join(workspace, 'data/coco/coco_lt_test.txt')) as f:
        image = osp.join(workspace, 'data/coco', f.readline().split()[0])
    proc = run_tool([osp.join(TOOLS, 'misc', 'predict.py'), cfg, ckpt,
                     image, '--topk', '5', '--json'], workspace)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    monkeypatch.chdir(workspace)  # the config's data paths are relative
    scores, names = _expected_scores(cfg, ckpt, image)
    order = np.argsort(-scores, kind='stable')[:5]
    assert [p[0] for p in result['predictions']] == [names[i] for i in order]
    np.testing.assert_allclose([p[1] for p in result['predictions']],
                               scores[order], atol=1e-4)


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


def test_inferencer_keeps_its_config_whole(workspace, lmpt_run, monkeypatch):
    """Building the test pipeline from inside the cache wrapper must not
    rewrite the inferencer's (or the caller's) config."""
    from mmengine.config import Config

    from mmltml.apis import MultiLabelInferencer
    cfg_path, work_dir, _ = lmpt_run
    monkeypatch.chdir(workspace)
    cfg = Config.fromfile(cfg_path)
    expected = cfg.test_dataloader.dataset.to_dict()
    infer = MultiLabelInferencer(cfg, pretrained=osp.join(
        work_dir, 'epoch_1.pth'), device='cpu')
    assert infer.config.test_dataloader.dataset.to_dict() == expected
    assert cfg.test_dataloader.dataset.to_dict() == expected
    assert type(infer.pipeline.transforms[-1]).__name__ == 'PackInputs'


def test_inferencer_trusts_the_configs_load_from(workspace, lmpt_run,
                                                 monkeypatch, tmp_path):
    """``pretrained=True`` loads ``load_from``, a full training checkpoint
    the user named in the config."""
    import shutil

    from mmengine.config import Config

    from mmltml.apis import MultiLabelInferencer
    cfg_path, work_dir, _ = lmpt_run
    monkeypatch.chdir(workspace)
    copy = str(tmp_path / 'named_in_config.pth')  # not trusted before
    shutil.copy(osp.join(work_dir, 'epoch_1.pth'), copy)
    cfg = Config.fromfile(cfg_path)
    cfg.load_from = copy
    infer = MultiLabelInferencer(cfg, pretrained=True, device='cpu')
    state = torch.load(copy, weights_only=False)['state_dict']
    ctx = 'backbone.prompt_learner.ctx'
    torch.testing.assert_close(infer.model.state_dict()[ctx], state[ctx])
