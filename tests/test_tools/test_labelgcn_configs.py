# Copyright (c) mmltml contributors. All rights reserved.
"""The label-graph GCN configs say what configs/labelgcn/README.md says:
LT-GCN's schedule is torch's OneCycleLR with one peak per group (GCN lr
10x), its parameter groups and EMA decay are the official ones, the model
settings are LT-GCN's / ML-GCN's, and the co-occurrence graph of a config
comes from its training list only."""
import copy
import glob
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS, PARAM_SCHEDULERS

import mmltml  # noqa: F401
from tests._tiny_setup import REPO_ROOT
from tests.test_tools.test_all_configs import use_stand_ins

LABELGCN = osp.join(REPO_ROOT, 'configs', 'labelgcn')


def load(name: str) -> Config:
    return Config.fromfile(osp.join(LABELGCN, name))


class TinyGCNModel(torch.nn.Module):
    """Parameter names as in the LT-GCN model: a backbone weight and
    bias, a 1-D context, GCN weights under ``head.adapter``."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(3, 3)
        self.ctx = torch.nn.Parameter(torch.zeros(4))
        self.head = torch.nn.Module()
        self.head.adapter = torch.nn.Linear(3, 3, bias=False)


def schedule(cfg: Config, epoch_length: int):
    """lr of the backbone weight and of the GCN, and beta1, per iteration
    under the config's optimizer and schedulers."""
    model = TinyGCNModel()
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    schedulers = [
        PARAM_SCHEDULERS.build(
            dict(s), default_args=dict(optimizer=wrapper,
                                       epoch_length=epoch_length))
        for s in cfg.param_scheduler
    ]
    groups = wrapper.optimizer.param_groups
    by_param = {id(g['params'][0]): g for g in groups}
    backbone = by_param[id(model.backbone.weight)]
    gcn = by_param[id(model.head.adapter.weight)]
    values = []
    for _ in range(cfg.train_cfg.max_epochs * epoch_length):
        values.append((backbone['lr'], gcn['lr'], backbone['betas'][0]))
        for sched in schedulers:
            sched.step()
    return values, wrapper, model


@pytest.mark.parametrize('name, cycle, stop', [
    ('lt-gcn_rn50_voc-lt.py', 16, 16),
    ('lt-gcn_rn50_coco-lt.py', 16, 16),
    ('lt-gcn_rn50_120e-stop18_voc-lt.py', 120, 18),
])
def test_schedule_is_torch_one_cycle_with_a_gcn_group(name, cycle, stop):
    """torch's OneCycleLR(max_lr=[lr, gcn_lr], pct_start=0.2,
    epochs=cycle) as LT-GCN's train.py builds it, run for ``stop``
    epochs."""
    epoch_length = 36  # VOC-LT: 1,142 images, batch 32
    values, _, _ = schedule(load(name), epoch_length)
    assert len(values) == stop * epoch_length
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.Adam([dict(params=[params[0]]),
                                  dict(params=[params[1]])], lr=1e-4)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[1e-4, 1e-3], epochs=cycle,
        steps_per_epoch=epoch_length, pct_start=0.2)
    warmup = int(0.2 * cycle * epoch_length)
    beta_tol = 0.1 * torch.pi / warmup  # one iteration of the cosine
    for it, (lr, gcn_lr, beta1) in enumerate(values):
        ref_lr, ref_gcn = [g['lr'] for g in optimizer.param_groups]
        assert lr == pytest.approx(ref_lr, rel=1e-9, abs=1e-15), it
        assert gcn_lr == pytest.approx(ref_gcn, rel=1e-9, abs=1e-15), it
        ref_beta = optimizer.param_groups[0]['betas'][0]
        assert beta1 == pytest.approx(ref_beta, abs=beta_tol), it
        optimizer.step()
        reference.step()
    if stop == cycle:  # annealed at the end of the loop
        assert values[-1][0] < 1e-4 / 25 / 1e3
    else:  # the literal run stops inside the warm-up, lr still rising
        assert values[-1][0] == max(v[0] for v in values) < 0.9e-4


def test_parameter_groups_are_lt_gcns():
    """Adam with coupled L2 1e-4 (not AdamW); no decay on 1-D parameters
    and biases; the GCN at lr 1e-3 with decay (utils.py:367-399)."""
    _, wrapper, model = schedule(load('lt-gcn_rn50_voc-lt.py'), 1)
    optimizer = wrapper.optimizer
    assert type(optimizer) is torch.optim.Adam
    group = {id(g['params'][0]): g for g in optimizer.param_groups}
    expected = {
        'backbone.weight': (1e-4, 1e-4),
        'backbone.bias': (1e-4, 0.0),
        'ctx': (1e-4, 0.0),
        'head.adapter.weight': (1e-3, 1e-4),
    }
    params = dict(model.named_parameters())
    for name, (lr, decay) in expected.items():
        g = group[id(params[name])]
        assert (g['initial_lr'] * 25, g['weight_decay']) == pytest.approx(
            (lr, decay)), name


@pytest.mark.parametrize('name, k', [
    ('lt-gcn_rn50_voc-lt.py', 90), ('lt-gcn_rn50_coco-lt.py', 641),
    ('lt-gcn_rn50_frozen-image_voc-lt.py', 90),
    ('lt-gcn_rn50_frozen-image_coco-lt.py', 641),
    ('lt-gcn_vitb16_coco-lt.py', 641),
    ('lt-gcn_rn50_nus-wide-lt.py', 641),
])
def test_ema_decay_is_the_official(name, k):
    """decay = 0.82^(1/K) (utils.py:401-418); mmengine's momentum is
    1 - decay; every weight and buffer is averaged."""
    hooks = {h['type']: h for h in load(name).custom_hooks}
    ema = hooks['EMAHook']
    assert ema['momentum'] == pytest.approx(1 - 0.82**(1 / k), rel=0.01)
    assert ema['update_buffers']
    if 'frozen-image' in name:
        assert 'FeatureCacheHook' in hooks


@pytest.mark.parametrize('name, dims, graph, trainable', [
    ('lt-gcn_rn50_voc-lt.py', (1024, (2048, 2048)),
     dict(mode='text_similarity', topk=None, reweight=0.2), True),
    ('lt-gcn_rn50_coco-lt.py', (1024, (2048, 2048)),
     dict(mode='text_similarity', topk=None, reweight=0.2), True),
    ('lt-gcn_rn50_identity-graph_coco-lt.py', (1024, (2048, 2048)),
     dict(mode='identity'), True),
    ('lt-gcn_vitb16_voc-lt.py', (512, (1024, 1024)),
     dict(mode='text_similarity', topk=None, reweight=0.2), True),
    ('lt-gcn_rn50_frozen-image_voc-lt.py', (1024, (2048, 2048)),
     dict(mode='text_similarity', topk=None, reweight=0.2), False),
    ('lt-gcn_rn50_nus-wide-lt.py', (1024, (2048, 2048)),
     dict(mode='text_similarity', topk=None, reweight=0.2), True),
])
def test_lt_gcn_model_settings(name, dims, graph, trainable):
    cfg = load(name)
    backbone, head = cfg.model.backbone, cfg.model.head
    assert backbone.image_tower_trainable == trainable
    assert backbone.prompt_learner == dict(ctx_init='a photo of a',
                                           class_specific=False)
    assert backbone.clip_model_name.endswith('-quickgelu')
    assert head.type == 'LabelGCNPromptHead'
    assert head.logit_scale == 10.0 and not head.get('learn_scale')
    adapter = head.adapter
    assert (adapter.in_dims, tuple(adapter.hidden_dims)) == dims
    assert adapter.get('out_dims') is None and adapter.residual == 1.0
    assert adapter.graph == graph
    loss = head.loss
    if 'dr' not in name:
        assert loss.reweight_func == 'class_static'
        assert loss.reduction == 'mean'  # the official code sums
        assert loss.logit_reg.neg_scale == (5.0 if 'voc' in name else 2.0)
    assert cfg.train_dataloader.batch_size == 32


def test_nus_wide_lt_config_reads_its_own_split():
    """NUS-WIDE-LT: 81 classes, the split's training statistics for the
    loss and the metric, the trained-tower pipeline (random resized crop,
    no feature cache) and the COCO-LT recipe otherwise."""
    cfg, coco = load('lt-gcn_rn50_nus-wide-lt.py'), load(
        'lt-gcn_rn50_coco-lt.py')
    stats = dict(ann_file='data/nus-wide/nus_wide_lt_train.txt',
                 label_file='data/nus-wide/nus_wide_lt_labels.txt')
    assert cfg.model.head.num_classes == 81
    assert cfg.model.backbone.classnames == 'nus-wide-lt'
    assert cfg.model.head.loss.class_stats == stats
    assert cfg.test_evaluator.class_stats == stats
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'NUSWIDELTDataset'
        assert dataset.data_root == 'data/nus-wide'
    steps = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert 'RandomResizedCrop' in steps
    assert all(h['type'] != 'FeatureCacheHook' for h in cfg.custom_hooks)
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert cfg[key] == coco[key], key
    coco_loss = dict(coco.model.head.loss, class_stats=stats)
    assert cfg.model.head.loss == coco_loss


def test_dr_variant_and_ml_gcn_settings():
    dr = load('lt-gcn_rn50_dr_voc-lt.py').model.head.loss
    assert dr == dict(type='DRLoss', gamma1=5.0, gamma2=7.0)
    for dataset in ('coco', 'voc'):
        cfg = load(f'ml-gcn_r50_db-focal_{dataset}-lt.py')
        head = cfg.model.head
        assert cfg.model.neck is None and head.pool == 'max'
        assert head.adapter.graph == dict(
            mode='cooccurrence', class_stats=cfg.class_stats,
            threshold=0.4, reweight=0.25)
        assert head.adapter.residual is None
        base = Config.fromfile(osp.join(
            REPO_ROOT, 'configs', 'baselines',
            f'resnet50_db-focal_{dataset}-lt.py'))
        # the DB-Focal baseline's backbone, loss, sampler and schedule
        assert cfg.model.backbone == base.model.backbone
        assert head.loss == base.model.head.loss
        for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler',
                    'train_cfg'):
            assert cfg[key] == base[key], key


def _graph_of(cfg: Config) -> torch.Tensor:
    head = copy.deepcopy(cfg.model.head.to_dict())
    use_stand_ins(head)
    return MODELS.build(head).adapter.adjacency.clone()


def test_cooccurrence_graph_reads_the_training_list_only(
        ltml_dir, tmp_path, monkeypatch):
    """The ML-GCN config's graph is ML-GCN's of the official VOC-LT
    training list; rewriting the test list leaves it unchanged, dropping
    training lines changes it."""
    data = tmp_path / 'data' / 'voc'
    data.mkdir(parents=True)
    for fname in ('voc_labels.txt', 'voc_lt_train.txt', 'voc_lt_test.txt'):
        shutil.copy(osp.join(ltml_dir, 'voc', fname), data / fname)
    monkeypatch.chdir(tmp_path)
    cfg = load('ml-gcn_r50_db-focal_voc-lt.py')
    graph = _graph_of(cfg)
    from tests.test_models.test_gcn_text_adapter import mlgcn_graph
    lines = (data / 'voc_lt_train.txt').read_text().split('\n')
    labels = [[int(v) for v in line.split()[1:]] for line in lines
              if line.strip()]
    torch.testing.assert_close(
        graph, torch.from_numpy(mlgcn_graph(labels, 20)).float(),
        atol=1e-6, rtol=0)
    test = data / 'voc_lt_test.txt'
    test_lines = test.read_text().split('\n')
    test.write_text('\n'.join(
        [f'{line.split()[0]} 14' for line in test_lines if line.strip()])
        + '\n')  # every test image "person" only
    assert torch.equal(_graph_of(cfg), graph)
    (data / 'voc_lt_train.txt').write_text('\n'.join(lines[:400]) + '\n')
    assert not torch.equal(_graph_of(cfg), graph)


def test_list_models_finds_the_gcn_configs():
    import mmpretrain
    names = set(mmpretrain.list_models('*gcn*'))
    configs = {osp.basename(p)[:-3]
               for p in glob.glob(osp.join(LABELGCN, '*.py'))}
    assert configs <= names
    assert all('gcn' in n for n in names)
    assert os.path.isfile(osp.join(LABELGCN, 'README.md'))
