# Copyright (c) mmltml contributors. All rights reserved.
"""tools/analysis_tools/benchmark_train.py with a tiny CLIP: it runs end to
end, writes the expected JSON, and its exactness check is real."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests._tiny_setup import REPO_ROOT, run_tool

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark_train.py')
LMPT = osp.join(REPO_ROOT, 'configs', 'lmpt', 'lmpt_vitb16_coco-lt.py')
# tiny CLIP, 32 px images, 4 context tokens: 32 text positions in the plain
# path, about 10 after truncation
TINY_CFG = f"""
_base_ = [{LMPT!r}]
model = dict(backbone=dict(
    clip_model_name=None, clip_pretrained=None,
    prompt_learner=dict(n_ctx=4),
    clip_model_cfg=dict(
        embed_dim=32,
        vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
        text_cfg=dict(context_length=32, vocab_size=49408, width=32,
                      heads=2, layers=1))))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=['caption']),
]
"""
ARGS = ['--batch-size', '4', '--iters', '1', '--warmup', '1',
        '--train-images', '64', '--test-images', '300', '--device', 'cpu']


def _load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_train', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


@pytest.fixture
def tiny_cfg(tmp_path, monkeypatch):
    # no data/coco here: the loss statistics fall back to synthetic counts
    monkeypatch.chdir(tmp_path)
    path = tmp_path / 'tiny_lmpt.py'
    path.write_text(TINY_CFG)
    return str(path)


def test_runs_end_to_end_and_writes_json(tiny_cfg, tmp_path):
    out = tmp_path / 'bench.json'
    proc = run_tool([TOOL, tiny_cfg, *ARGS, '--epoch', '--out', str(out)],
                    str(tmp_path), timeout=240)
    assert 'step speedup' in proc.stdout
    result = json.loads(out.read_text())
    assert set(result) == {'meta', 'step', 'step_speedup', 'exactness',
                           'epoch', 'eval'}
    meta = result['meta']
    assert meta['num_classes'] == 80 and meta['batch_size'] == 4
    assert meta['text_tokens']['plain'] == 32
    assert meta['text_tokens']['optimised'] < 32
    assert meta['class_stats'].startswith('synthetic')
    for path in ('plain', 'optimised'):
        step = result['step'][path]
        for key in ('image_ms', 'text_ms', 'loss_ms', 'backward_step_ms',
                    'total_ms', 'images_per_s', 'peak_memory_mib'):
            assert step[key] > 0, (path, key)
    exact = result['exactness']['plain_vs_optimised']
    assert {'logits', 'loss', 'loss_cls', 'loss_cse'} <= set(exact)
    assert any(k.startswith('param:') for k in exact)
    assert all(v['ok'] for v in exact.values())
    # metering the stages leaves model.train_step as it is
    metered = result['exactness']['staged_vs_train_step']
    assert {'logits', 'loss'} <= set(metered)
    assert all(v['max_abs_diff'] == 0 for v in metered.values())
    epoch = result['epoch']
    assert epoch['steps'] == 1  # 64 images at the config's batch size 64
    assert 'extrapolated' in epoch['method']
    for path, key in (('plain', 'uncached_epoch_s'),
                      ('optimised', 'cached_epoch_s')):
        s = result['step'][path]  # 64 images of the image stage + 1 step
        expected = (64 * s['image_ms'] / 4 + s['text_ms'] + s['loss_ms'] +
                    s['backward_step_ms']) / 1e3
        assert epoch[key] == pytest.approx(expected)
    flops = epoch['flops']
    plain = flops['step_flops']['plain']
    optimised = flops['step_flops']['optimised']
    assert plain['image'] > 0 and optimised['image'] == 0  # cached
    # linear layers scale with the text length, attention with its square
    tokens = meta['text_tokens']['plain'] / meta['text_tokens']['optimised']
    assert tokens <= plain['text'] / optimised['text'] <= tokens**2
    assert 0 < flops['packed_token_fraction'] <= 1
    assert flops['epoch_flop_ratio'] == pytest.approx(
        (64 * plain['image'] / 4 + sum(plain.values()) - plain['image']) /
        (sum(optimised.values())))
    assert result['eval']['num_images'] == 300
    assert result['eval']['text_tower_runs'] == 1  # prompts memoised


def test_corrupt_cache_fails_the_run(tool, tiny_cfg, tmp_path, monkeypatch):
    """A cache that serves another image's features is caught."""
    from mmltml.benchmarks import feature_cache
    encode = feature_cache.encode_images
    monkeypatch.setattr(feature_cache, 'encode_images',
                        lambda *a, **k: encode(*a, **k).roll(1, dims=0))
    out = tmp_path / 'bench.json'
    assert tool.main([tiny_cfg, *ARGS, '--out', str(out)]) == 1
    assert not out.exists()


def test_end_to_end_reference_and_fast_paths_agree(tool, tmp_path):
    """--end-to-end trains the synthetic LMPT recipe (shortened) twice
    through tools/train.py; without the cache and with all 77 text
    positions the final group mAPs are the same. The benchmark's images
    are deleted: --fake-images writes stand-ins for every listed image."""
    import os
    import shutil

    from PIL import Image

    from mmltml.benchmarks.synthetic import generate_synthetic_lt
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), tmp_path / name)
    root = tmp_path / 'data' / 'synthetic'
    generate_synthetic_lt(
        str(root), seed=0, image_size=64, max_train_count=60,
        min_train_count=3, test_per_class=20)
    shutil.rmtree(root / 'train')
    shutil.rmtree(root / 'test')
    listed = [line.split()[0] for split in ('train', 'test')
              for line in (root / f'{split}.txt').read_text().splitlines()]
    out = tmp_path / 'e2e.json'
    proc = run_tool([
        TOOL, 'configs/synthetic/lmpt_tinyclip_synthetic.py', '--end-to-end',
        '--fake-images', '--fake-image-size', '64', '64',
        '--work-dir', 'e2e', '--out', str(out), '--cfg-options',
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
        'param_scheduler.T_max=2'
    ], str(tmp_path), timeout=400)
    assert 'end-to-end speedup' in proc.stdout
    assert f'stand-in images: {len(listed)} written' in proc.stderr + \
        proc.stdout
    fake = tmp_path / 'e2e' / 'fake_images'
    for rel_path in listed[::50]:
        with Image.open(fake / rel_path) as image:
            assert image.size == (64, 64) and image.format == 'JPEG'
    result = json.loads(out.read_text())
    runs = result['end_to_end']
    assert set(runs) == {'reference', 'fast'}
    assert all(run['seconds'] > 0 for run in runs.values())
    reference = Config.fromfile(
        str(tmp_path / 'e2e' / 'reference' / 'recipe_config.py'))
    assert reference.train_dataloader.dataset.enable is False
    assert reference.val_dataloader.dataset.enable is False
    assert reference.model.backbone.truncate_text is False
    fast, ref = runs['fast']['metrics'], runs['reference']['metrics']
    assert fast['lt/mAP'] > 0
    for key in fast:  # groups without classes are nan on both paths
        assert fast[key] == pytest.approx(ref[key], abs=1e-3,
                                          nan_ok=True), key
    assert result['max_metric_diff'] < 1e-3


@pytest.mark.slow  # two builds of three tiny CLIPs: about a minute loaded
def test_whole_step_trains_a_fine_tuning_config_with_random_weights(
        tmp_path, monkeypatch):
    """``--whole-step`` on HP-DVAL's synthetic stage 1 (student and
    teacher CLIPs, prompts): every pretrained weight is dropped, the timed
    steps really update the student, and the JSON records them."""
    from mmltml.benchmarks.synthetic import generate_synthetic_lt
    # the config's relative data root, generated small (a fresh checkout
    # has no data/synthetic)
    monkeypatch.chdir(tmp_path)
    generate_synthetic_lt(str(tmp_path / 'data' / 'synthetic'), seed=0,
                          image_size=32, max_train_count=6,
                          min_train_count=1, test_per_class=1)
    from mmltml.benchmarks import whole_step
    cfg = dict(backbone=dict(clip_pretrained='x.pth', frozen=False),
               head=dict(text=dict(clip_pretrained='openai')),
               teachers=[dict(pretrained=True), dict(pretrained='y.pth')])
    whole_step.without_pretrained_weights(cfg)
    assert cfg == dict(backbone=dict(clip_pretrained=None, frozen=False),
                       head=dict(text=dict(clip_pretrained=None)),
                       teachers=[dict(pretrained=False),
                                 dict(pretrained=False)])
    config = osp.join(REPO_ROOT, 'configs', 'synthetic',
                      'hpdval_tinyclip_stage1_synthetic.py')
    built = whole_step.build_whole_step(config, batch_size=2, size=64)
    model = built['model']
    conv = model.backbone.visual.conv1.weight.detach().clone()
    timing = whole_step.time_whole_steps(model, built['optim_wrapper'],
                                         built['batch'], iters=1, warmup=1,
                                         device=conv.device,
                                         log=lambda msg: None)
    assert not torch.equal(conv, model.backbone.visual.conv1.weight)
    assert timing['step_s'] > 0 and len(timing['samples_s']) == 1
    assert timing['trainable_params'] == sum(
        p.numel() for p in model.parameters() if p.requires_grad)
    assert built['num_classes'] == 24
    out = str(tmp_path / 'step.json')
    assert _load_tool().main([config, '--whole-step', '--batch-size', '2',
                              '--iters', '1', '--warmup', '1',
                              '--image-size', '64', '--out', out]) == 0
    with open(out) as f:
        result = json.load(f)
    assert result['whole_step']['step_s'] > 0
    assert result['meta']['batch_size'] == 2


LMCLIP = osp.join(REPO_ROOT, 'configs', 'lmclip', 'lmclip_vitb16_coco-lt.py')
TINY_FINE_TUNE_CFG = f"""
_base_ = [{LMCLIP!r}]
tiny_clip = dict(
    clip_model_name=None, clip_pretrained=None,
    clip_model_cfg=dict(
        embed_dim=32,
        vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
        text_cfg=dict(context_length=32, vocab_size=49408, width=32,
                      heads=2, layers=1)))
model = dict(backbone=tiny_clip, head=dict(text_embeds=tiny_clip))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
"""


def test_fine_tune_config_is_timed_per_stage(tmp_path, monkeypatch):
    """An LM-CLIP config (whole CLIP trained) has one path: its train_step
    per stage, and an epoch and an evaluation extrapolated from it."""
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / 'tiny_lmclip.py'
    cfg.write_text(TINY_FINE_TUNE_CFG)
    out = tmp_path / 'bench.json'
    proc = run_tool([TOOL, str(cfg), *ARGS, '--epoch', '--out', str(out)],
                    str(tmp_path), timeout=240)
    assert 'no cached path' in proc.stdout
    result = json.loads(out.read_text())
    assert set(result) == {'meta', 'fine_tune_step', 'epoch'}
    meta, step = result['meta'], result['fine_tune_step']
    assert meta['num_classes'] == 80 and meta['batch_size'] == 4
    assert meta['trainable'] == meta['parameters'] > 0
    assert meta['class_stats'].startswith('synthetic')
    for key in ('image_ms', 'text_ms', 'loss_ms', 'backward_step_ms',
                'total_ms', 'images_per_s', 'peak_memory_mib'):
        assert step[key] > 0, key
    assert step['total_ms'] >= step['image_ms'] + step['text_ms']
    epoch = result['epoch']
    # 64 images at the measured batch (the config trains with 8)
    assert epoch['steps'] == 16 and epoch['config_batch_size'] == 8
    assert epoch['epoch_s'] == pytest.approx(16 * step['total_ms'] / 1e3)
    assert epoch['eval_s'] == pytest.approx(
        300 * epoch['eval_ms_per_image'] / 1e3)
    assert epoch['max_epochs'] == 50 and epoch['evaluations'] == 5
