# Copyright (c) mmltml contributors. All rights reserved.
"""The CPRFL configs: each family trains and tests through the tools on CPU
with a tiny backbone and a tiny CLIP text tower on a subset of the official
lists; the ablation configs build and train one step; the schedule,
parameter groups and backbone initialisation are what the configs say."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmltml  # noqa: F401  (registers the plugin components)
from tests._tiny_setup import REPO_ROOT, free_port, make_ltml_subset, run_tool

TOOLS = osp.join(REPO_ROOT, 'tools')
CPRFL = osp.join(REPO_ROOT, 'configs', 'cprfl')
IMAGE_SIZE = 64

# A tiny open_clip model for the class-prompt text embeddings (the image
# tower is unused by the ResNet configs).
TINY_TEXT_CLIP = dict(
    embed_dim=24,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=IMAGE_SIZE),
    text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2,
                  layers=1))
# A tiny ViT open_clip model for the CLIP-backbone config.
TINY_VIT_CLIP = dict(
    embed_dim=24,
    vision_cfg=dict(layers=1, width=32, head_width=16, patch_size=16,
                    image_size=IMAGE_SIZE),
    text_cfg=TINY_TEXT_CLIP['text_cfg'])
TINY_VSI = dict(embed_dims=32, num_heads=2, head_dims=16, mlp_dims=32)
TINY_RESNET = dict(depth=18, stem_channels=8, base_channels=8, init_cfg=None)


def tiny_overrides(base: str) -> dict:
    """Top-level overrides that make ``base`` tiny (model, image size,
    loaders, one epoch); the config's own transforms are kept."""
    cfg = Config.fromfile(osp.join(CPRFL, base))
    head = dict(TINY_VSI)
    if cfg.model.head.text_embeds.type == 'CLIPClassTextEmbeds':
        head['text_embeds'] = dict(clip_model_name=None, clip_pretrained=None,
                                   clip_model_cfg=TINY_TEXT_CLIP)
    if cfg.model.backbone.type == 'ResNet':
        backbone = TINY_RESNET
        head['in_channels'] = 8 * 8  # last stage of a base-8 ResNet-18
    else:
        backbone = dict(clip_model_name=None, clip_pretrained=None,
                        clip_model_cfg=TINY_VIT_CLIP)
        head['in_channels'] = TINY_VIT_CLIP['vision_cfg']['width']

    def small(pipeline):
        return [
            dict(t, scale=(IMAGE_SIZE, IMAGE_SIZE))
            if t['type'] == 'Resize' else t.to_dict() for t in pipeline
        ]

    def loader(pipeline):
        return dict(batch_size=8, num_workers=0,
                    dataset=dict(pipeline=small(pipeline)))

    train = loader(cfg.train_dataloader.dataset.pipeline)
    test = loader(cfg.test_dataloader.dataset.pipeline)
    return dict(
        model=dict(backbone=backbone, head=head),
        train_dataloader=train,
        val_dataloader=test,
        test_dataloader=test,
        train_cfg=dict(max_epochs=1, val_interval=1),
        default_hooks=dict(logger=dict(interval=1)))


def write_config(path: str, base: str) -> str:
    """A child config of ``base`` with :func:`tiny_overrides`."""
    text = f'_base_ = [{osp.join(CPRFL, base)!r}]\n'
    text += ''.join(f'{k} = {v!r}\n'
                    for k, v in tiny_overrides(base).items())
    with open(path, 'w') as f:
        f.write(text)
    return path


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread here and in the tools: these models are tiny and
    the machine is shared, where thread oversubscription costs 10-50x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OMP_NUM_THREADS', '1')
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory, ltml_dir):
    root = str(tmp_path_factory.mktemp('ltml'))
    make_ltml_subset(root, ltml_dir, 'coco', num_test=8)
    make_ltml_subset(root, ltml_dir, 'voc', num_test=8)
    return root


def _metric(output, key='lt/mAP'):
    lines = [line for line in output.splitlines() if key in line]
    assert lines, output[-3000:]
    return lines[-1]


def _map_value(line):
    return float(line.split('lt/mAP:')[1].split()[0])


def _train_and_test(base, tool, root, workspace):
    """Train ``base`` (tiny) with ``tool`` (train.py, or dist_train.sh with
    2 processes), then run tools/test.py on the last checkpoint; return the
    logs and the checkpoint."""
    cfg = write_config(osp.join(root, 'cfg.py'), base)
    work_dir = osp.join(root, 'work')
    if tool == 'dist_train.sh':
        cmd, port = ['bash', osp.join(TOOLS, tool), cfg, '2'], free_port()
    else:
        cmd, port = [osp.join(TOOLS, tool), cfg], None
    train = run_tool(cmd + ['--work-dir', work_dir], workspace, port=port)
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    test = run_tool([osp.join(TOOLS, 'test.py'), cfg, ckpt, '--work-dir',
                     osp.join(root, 'test')], workspace)
    return dict(train=train.stdout + train.stderr,
                test=test.stdout + test.stderr, ckpt=ckpt)


# the tool tests at the end of the file: (config, training tool)
TOOL_RUNS = {
    'test_resnet_config_dist_train_two_processes_then_test':
    ('cprfl_r101_coco-lt.py', 'dist_train.sh'),
    'test_clip_backbone_config_train_then_test':
    ('cprfl_clip-vitb16-frozen_coco-lt.py', 'train.py'),
}


@pytest.fixture(scope='module', autouse=True)
def tool_runs(request, one_thread, workspace, tmp_path_factory):
    """The two config families through the tools, started in the
    background when the module starts (the tools' start-up dominates this
    file's run time, so they overlap with each other and with the
    in-process tests); the tool tests wait for their run:

    - CPRFL's ResNet config: dist_train.sh with 2 CPU processes, then
      tools/test.py;
    - the VSI head on frozen CLIP image tokens: tools/train.py, then
      tools/test.py.
    """
    from concurrent.futures import ThreadPoolExecutor
    selected = {item.name for item in request.session.items}
    with ThreadPoolExecutor(2) as pool:
        yield {
            test: pool.submit(_train_and_test, base, tool,
                              str(tmp_path_factory.mktemp('run')),
                              workspace)
            for test, (base, tool) in TOOL_RUNS.items() if test in selected
        }


# ---------------------------------------------------------------------------
# In-process checks of the ablation configs, the schedule and the optimizer
# ---------------------------------------------------------------------------
def _tiny_cfg(base: str, workspace: str) -> Config:
    cfg = Config.fromfile(osp.join(CPRFL, base))
    cfg.merge_from_dict(tiny_overrides(base))
    for key in ('ann_file', 'label_file'):
        cfg.class_stats[key] = osp.join(workspace, cfg.class_stats[key])
    if cfg.model.head.loss.get('class_stats') is not None:
        cfg.model.head.loss.class_stats = cfg.class_stats
    return cfg


def _build(cfg: Config):
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(
        dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def _backward(model, num_classes):
    """Gradients of the training loss of a random batch (no step)."""
    from mmpretrain.structures import DataSample
    torch.manual_seed(1)
    data = dict(
        inputs=[torch.randint(0, 256, (3, IMAGE_SIZE, IMAGE_SIZE),
                              dtype=torch.uint8) for _ in range(4)],
        data_samples=[DataSample().set_gt_label([i % num_classes, 1])
                      for i in range(4)])
    model.train()
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(data, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    grads = {n: None if p.grad is None else p.grad.clone()
             for n, p in model.named_parameters() if p.requires_grad}
    return loss, grads


@pytest.mark.parametrize('base', [
    'cprfl_r101_voc-lt.py',
    'cprfl_r101_text-trainable_coco-lt.py',
    'cprfl_r101_no-cls-grad_coco-lt.py',
    'cprfl_r101_no-feature-grad_coco-lt.py',
    'cprfl_r101_residual_coco-lt.py',
    'cprfl_r101_db-focal_coco-lt.py',
])
def test_ablation_configs_train_one_step(workspace, base):
    cfg = _tiny_cfg(base, workspace)
    model, optim_wrapper = _build(cfg)
    head = model.head
    loss, grads = _backward(model, cfg.num_classes)
    assert torch.isfinite(loss)
    prompt = {n: g for n, g in grads.items() if 'prompt_init' in n}
    assert prompt and all(g is not None and g.abs().sum() > 0
                          for g in prompt.values())
    trunk = [g for n, g in grads.items()
             if n.startswith(('backbone.', 'head.vsi.', 'head.phi.'))]
    if 'no-feature-grad' in base:
        # only the prompt-initialisation net learns (classifier path)
        assert all(g is None for g in trunk)
        assert cfg.find_unused_parameters
    else:
        assert trunk and all(g is not None for g in trunk)
    names = set(model.state_dict())
    if 'text-trainable' in base:
        assert 'head.text_embeds.embeds' not in names
        text = [g for n, g in grads.items()
                if n.startswith('head.text_embeds.source.')]
        assert text and all(g is not None for g in text)
    else:
        assert 'head.text_embeds.embeds' in names
        assert not any('text_embeds.source' in n for n in names)
    assert head.vsi.residual == ('residual' in base)
    assert type(head.loss_module).__name__ == (
        'DBLoss' if 'db-focal' in base else 'CPRFLAsymmetricLoss')
    if 'no-cls-grad' in base:
        # cutting the classifier path changes the prompts' gradient
        head.no_cls_grad = False
        _, both = _backward(model, cfg.num_classes)
        assert not torch.allclose(both['head.prompt_init.2.weight'],
                                  prompt['head.prompt_init.2.weight'])
    # and the config's optimizer takes a step
    optim_wrapper.step()


def test_weight_decay_only_on_weights_of_two_or_more_dims(workspace):
    """CPRFL's `add_weight_decay`: no decay on 1-D parameters and biases,
    for the default model and with the trainable CLIP text tower."""
    for base in ('cprfl_r101_coco-lt.py',
                 'cprfl_r101_text-trainable_coco-lt.py'):
        model, optim_wrapper = _build(_tiny_cfg(base, workspace))
        decay = {}
        for group in optim_wrapper.optimizer.param_groups:
            for param in group['params']:
                decay[id(param)] = group['weight_decay']
        for name, param in model.named_parameters():
            if not param.requires_grad:
                assert id(param) not in decay
                continue
            no_decay = param.ndim == 1 or name.endswith('.bias')
            assert decay[id(param)] == (0. if no_decay else 1e-4), name
        assert optim_wrapper.optimizer.defaults['lr'] == 5e-5


@pytest.mark.parametrize('base', [
    'cprfl_r101_coco-lt.py', 'cprfl_r101_text-trainable_coco-lt.py'])
def test_ema_decay_0998_on_weights_and_buffers(workspace, base):
    """The config's EMA hook keeps 0.998 of the average per update, on
    every weight and BN statistic (mmengine's momentum = 1 - decay)."""
    from mmpretrain.registry import MODELS
    cfg = _tiny_cfg(base, workspace)
    model, _ = _build(cfg)
    (hook, ) = cfg.custom_hooks
    assert hook.type == 'EMAHook'
    ema = MODELS.build(
        dict(type=hook.ema_type, momentum=hook.momentum,
             update_buffers=hook.update_buffers),
        default_args=dict(model=model))
    ema.update_parameters(model)  # the first update copies
    before = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.add_(1.)
    ema.update_parameters(model)
    averaged = ema.module.state_dict()
    checked = 0
    for key, value in before.items():
        if value.is_floating_point():
            torch.testing.assert_close(averaged[key], value + 0.002,
                                       rtol=0, atol=1e-5, msg=key)
            checked += 1
    assert checked > 10 and 'backbone.bn1.running_mean' in before


def _run_schedule(cfg: Config, epoch_length: int):
    """(lr, beta1) of each iteration under the config's schedulers."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    optim_wrapper = build_optim_wrapper(torch.nn.Linear(2, 2),
                                        cfg.optim_wrapper)
    schedulers = []
    for sched in copy.deepcopy(cfg.param_scheduler):
        sched = dict(sched)
        cls = PARAM_SCHEDULERS.get(sched.pop('type'))
        assert sched.pop('convert_to_iter_based') and sched['by_epoch']
        schedulers.append(cls.build_iter_from_epoch(
            optimizer=optim_wrapper, epoch_length=epoch_length, **sched))
    values = []
    for _ in range(cfg.train_cfg.max_epochs * epoch_length):
        group = optim_wrapper.optimizer.param_groups[0]
        values.append((group['lr'], group['betas'][0]))
        for sched in schedulers:
            sched.step()
    return values


@pytest.mark.parametrize('base,cycle_epochs,stop', [
    ('cprfl_r101_coco-lt.py', 30, 30),
    ('cprfl_r101_80e-stop79_coco-lt.py', 80, 79),
    ('cprfl_r101_80e-stop29_voc-lt.py', 80, 29),
])
def test_schedule_is_torch_one_cycle(base, cycle_epochs, stop):
    """lr and beta1 per iteration as the official torch OneCycleLR(max_lr,
    epochs=cycle_epochs, pct_start=0.1), run for ``stop`` epochs."""
    cfg = Config.fromfile(osp.join(CPRFL, base))
    epoch_length = 24
    values = _run_schedule(cfg, epoch_length)
    assert len(values) == stop * epoch_length

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=5e-5)
    ref = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=5e-5, epochs=cycle_epochs,
        steps_per_epoch=epoch_length, pct_start=0.1)
    warmup = int(0.1 * cycle_epochs * epoch_length)
    # one iteration of the cosine beta1 schedule at this length
    beta_tol = 0.1 * torch.pi / warmup
    for it, (lr, beta1) in enumerate(values):
        group = optimizer.param_groups[0]
        assert lr == pytest.approx(group['lr'], rel=1e-9, abs=1e-15), it
        assert beta1 == pytest.approx(group['betas'][0], abs=beta_tol), it
        optimizer.step()
        ref.step()
    assert values[warmup - 1][0] == pytest.approx(5e-5)
    assert min(b for _, b in values) == pytest.approx(0.85, abs=beta_tol)


def test_backbone_loads_torchvision_weights(tmp_path, monkeypatch):
    """`torchvision://` ImageNet weights load into mmpretrain's ResNet as
    they are (same names) and give torchvision's feature map."""
    import torchvision
    from mmengine.runner.checkpoint import get_torchvision_models
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(CPRFL, 'cprfl_r101_coco-lt.py'))
    backbone = cfg.model.backbone
    assert backbone.init_cfg.checkpoint == 'torchvision://resnet101'
    # the same loading path with ResNet-18 (same parameter names)
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path))
    url = get_torchvision_models()['resnet18']
    cache = tmp_path / 'checkpoints' / osp.basename(url)
    cache.parent.mkdir()
    torch.save(reference.state_dict(), str(cache))
    model = MODELS.build(dict(
        backbone, depth=18,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')))
    model.init_weights()
    model.eval()
    x = torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    trunk = torch.nn.Sequential(*list(reference.children())[:-2])
    with torch.no_grad():
        torch.testing.assert_close(model(x)[-1], trunk(x))


def test_metafile_lists_every_config_with_consistent_results(tmp_path):
    """Parsed as mmpretrain's ModelHub parses it; the paper's totals are the
    class-count-weighted means of its groups (22/33/25, 6/6/8)."""
    import os

    from modelindex.load_model_index import load
    index = tmp_path / 'model-index.yml'
    rel = osp.relpath(osp.join(CPRFL, 'metafile.yml'), str(tmp_path))
    index.write_text(f'Import:\n  - {rel}\n')
    model_index = load(str(index))
    model_index.build_models_with_collections()
    models = model_index.models
    assert {m.name for m in models} == {
        f[:-3] for f in os.listdir(CPRFL) if f.endswith('.py')}
    sizes = {'COCO-LT': (22, 33, 25), 'VOC-LT': (6, 6, 8)}
    with_results = set()
    for model in models:
        assert model.config == f'configs/cprfl/{model.name}.py'
        assert model.weights is None and model.in_collection == 'CPRFL'
        for result in model.results or []:
            with_results.add(model.name)
            assert result.task == 'Multi-Label Classification'
            assert model.name.endswith(result.dataset.lower())
            m = result.metrics
            if set(m) == {'mAP'}:  # a figure that reports the total only
                continue
            groups = (m['mAP_head'], m['mAP_medium'], m['mAP_tail'])
            counts = sizes[result.dataset]
            weighted = sum(c * g for c, g in zip(counts, groups))
            assert m['mAP'] == pytest.approx(weighted / sum(counts),
                                             abs=0.015), model.name
    assert with_results == {'cprfl_r101_coco-lt', 'cprfl_r101_voc-lt',
                            'cprfl_r101_db-focal_coco-lt',
                            'cprfl_r101_random-prompts_coco-lt'}


# ---------------------------------------------------------------------------
# Through the tools (started in the background by ``tool_runs``)
# ---------------------------------------------------------------------------
def _ema_checkpoint(path):
    """The checkpoint's weights, after checking mmengine's EMA layout:
    ``state_dict`` holds the averaged weights, ``ema_state_dict`` the
    regular ones (with a ``module.`` prefix); they differ after training."""
    state = torch.load(path, map_location='cpu', weights_only=False)
    regular = state['ema_state_dict']
    assert any(not torch.equal(v, regular['module.' + k])
               for k, v in state['state_dict'].items()
               if v.is_floating_point())
    return state['state_dict']


def test_resnet_config_dist_train_two_processes_then_test(request,
                                                          tool_runs):
    run = tool_runs[request.node.name].result()
    out = run['train']
    assert 'Distributed training: True' in out and 'GPU number: 2' in out
    assert 'loss' in out
    _metric(out)
    weights = _ema_checkpoint(run['ckpt'])
    assert weights['head.text_embeds.embeds'].shape == (80, 24)
    _metric(run['test'])


def test_clip_backbone_config_train_then_test(request, tool_runs):
    """The tested checkpoint evaluates exactly like the last validation
    (EMA weights). The smoke run's CLIP tower is random (no
    ``clip_pretrained``), so it is saved with the head: a rebuild could not
    restore it (a pretrained tower is left out: test_clip_vision_backbone)."""
    run = tool_runs[request.node.name].result()
    assert 'loss' in run['train']
    weights = _ema_checkpoint(run['ckpt'])
    assert any(k.startswith('backbone.visual.') for k in weights)
    assert any(k.startswith('head.vsi.') for k in weights)
    assert _map_value(_metric(run['test'])) == pytest.approx(
        _map_value(_metric(run['train'])), abs=1e-4)
