# Copyright (c) mmltml contributors. All rights reserved.
"""Every config under ``configs/`` builds on the small LT fixture.

The configs are discovered at test time (every ``*.py`` outside
``configs/_base_``), so new config families are covered as they appear, and
so are their datasets: each ``data/<name>`` root a config names gets the
fixture of the benchmark preset with that data root
(``mmltml.datasets.benchmark_datasets``; a small subset of the official
lists when they are present, else generated files in the same formats), and
``data/synthetic*`` is generated. For each config the test builds:

* the model (not run), with tiny stand-ins for weights that cannot be
  downloaded here: the open_clip model of every component that takes
  ``clip_pretrained`` becomes a tiny CLIP, ``Pretrained`` ``init_cfg``
  entries and ``pretrained`` weights are dropped;
* its optimizer wrapper, parameter schedulers, visualizer, default and
  custom hooks;
* every dataloader (dataset, sampler, loader), one item's data info and
  one item through the pipeline;
* the evaluator, run on random scores over the test split (this catches
  metric key collisions and class-count mismatches).
"""
import gc
import glob
import inspect
import os
import os.path as osp
from typing import Dict, List, Set

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, MODELS, PARAM_SCHEDULERS, VISUALIZERS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401  (registers the plugin components)
from mmltml.benchmarks.synthetic import class_names, generate_synthetic_lt
from mmltml.datasets import CachedFeatureDataset
from mmltml.utils.dataset_cfg import check_feature_cache_hook
from tests._tiny_setup import (REPO_ROOT, TINY_CLIP_224, benchmark_by_root,
                               make_dataset_fixture)
from tests.conftest import LTML_DIR

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
SYNTHETIC_PARAMS = dict(seed=0, image_size=32, max_train_count=6,
                        min_train_count=1, test_per_class=1)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def discover_configs() -> List[str]:
    """Every config file under ``configs/`` except the ``_base_`` parts."""
    paths = glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    return sorted(
        osp.relpath(p, CONFIG_DIR) for p in paths
        if '_base_' not in osp.relpath(p, CONFIG_DIR).split(os.sep))


CONFIGS = discover_configs()


# ---------------------------------------------------------------------------
# Stand-ins for weights that cannot be downloaded here
# ---------------------------------------------------------------------------
def _init_args(type_name) -> Set[str]:
    """Constructor argument names of a registered model component."""
    cls = MODELS.get(type_name) if isinstance(type_name, str) else type_name
    if not inspect.isclass(cls):
        return set()
    return set(inspect.signature(cls.__init__).parameters)


def _is_pretrained(init_cfg) -> bool:
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def use_stand_ins(node) -> None:
    """Replace downloadable weights in a model config, in place.

    * Components taking ``clip_pretrained`` build a tiny CLIP instead of
      their open_clip model (also when they rely on the defaults); a CLIP
      config of their own (``clip_model_cfg``) is kept, without weights.
    * ``init_cfg`` entries of type ``Pretrained`` are removed.
    * ``pretrained`` weights (a path, URL or True) are dropped.
    * A ``FileTextEmbeds`` whose file does not exist becomes a
      ``RandomTextEmbeds`` of the tiny CLIP's width.
    """
    if isinstance(node, list):
        for item in node:
            use_stand_ins(item)
        return
    if not isinstance(node, dict):
        return
    if 'clip_pretrained' in node or 'clip_pretrained' in _init_args(
            node.get('type')):
        node['clip_pretrained'] = None
        if not node.get('clip_model_cfg'):
            node['clip_model_cfg'] = dict(TINY_CLIP_224)
            node['clip_model_name'] = None
    init_cfg = node.get('init_cfg')
    if _is_pretrained(init_cfg):
        node['init_cfg'] = None
    elif isinstance(init_cfg, list):
        node['init_cfg'] = [c for c in init_cfg if not _is_pretrained(c)]
    if node.get('pretrained') not in (None, False):
        node['pretrained'] = (False if isinstance(node['pretrained'], bool)
                              else None)
    if (node.get('type') == 'FileTextEmbeds'
            and not osp.isfile(node.get('path', ''))):
        node.clear()
        node.update(type='RandomTextEmbeds',
                    dims=TINY_CLIP_224['embed_dim'])
    for value in node.values():
        use_stand_ins(value)


# Random initialisers skipped while building (the models are never run;
# parameters keep their uninitialised memory). Building is then dominated
# by module construction instead of filling large tensors.
RANDOM_INITS = ('uniform_', 'normal_', 'trunc_normal_', 'kaiming_uniform_',
                'kaiming_normal_', 'xavier_uniform_', 'xavier_normal_',
                'orthogonal_')


def _keep(tensor: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    return tensor


def speed_up_building(monkeypatch) -> None:
    """Skip random weight init and mmengine's per-dataset ``gc.collect``
    (which costs seconds in a test process holding many objects)."""
    for name in RANDOM_INITS:
        monkeypatch.setattr(torch.nn.init, name, _keep)
    monkeypatch.setattr(gc, 'collect', lambda *args, **kwargs: 0)


# ---------------------------------------------------------------------------
# Data roots
# ---------------------------------------------------------------------------
def data_roots(node) -> Set[str]:
    """Names ``X`` of every relative ``data/X...`` path in a config."""
    if isinstance(node, dict):
        return set().union(*(data_roots(v) for v in node.values()))
    if isinstance(node, (list, tuple)):
        return set().union(*(data_roots(v) for v in node))
    if isinstance(node, str) and node.startswith('data/'):
        return {node.split('/')[1]}
    return set()


@pytest.fixture(autouse=True)
def single_thread():
    """One intra-op thread: on a shared, loaded CPU two threads make the
    small tensor work of building several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp('all_configs'))


def prepare_data(workspace: str, cfg: Config) -> None:
    """Make sure every data root of ``cfg`` exists in the workspace."""
    benchmarks = benchmark_by_root()
    for name in sorted(data_roots(cfg._cfg_dict)):
        if not name or osp.isdir(osp.join(workspace, 'data', name)):
            continue
        if name in benchmarks:
            make_dataset_fixture(workspace, benchmarks[name], LTML_DIR)
            continue
        if 'synthetic' not in name:
            pytest.fail(f'data/{name} is the data root of no benchmark '
                        'preset (mmltml.datasets.benchmark_datasets)')
        params = dict(SYNTHETIC_PARAMS)
        num_classes = cfg.get('num_classes', len(class_names()))
        if num_classes != len(class_names()):  # a large vocabulary
            params.update(num_classes=num_classes, profile='zipf',
                          max_train_count=2)
        generate_synthetic_lt(osp.join(workspace, 'data', name), **params)


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------
def build_model(cfg: Config) -> torch.nn.Module:
    """As the Runner does: the top-level ``data_preprocessor`` is the
    model's default one."""
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    use_stand_ins(model_cfg)
    return MODELS.build(model_cfg)


def build_loaders(cfg: Config) -> Dict[str, torch.utils.data.DataLoader]:
    """Every distinct dataloader of the config."""
    loaders, seen = {}, []
    for key in LOADERS:
        loader_cfg = cfg.get(key)
        if loader_cfg is None or loader_cfg in seen:
            continue
        seen.append(loader_cfg)
        # no worker processes: only the structure is under test
        loader_cfg = loader_cfg.copy()
        loader_cfg.update(num_workers=0, persistent_workers=False)
        loaders[key] = Runner.build_dataloader(loader_cfg, seed=0)
    return loaders


def check_loader(key: str, loader) -> None:
    dataset = loader.dataset
    if isinstance(dataset, CachedFeatureDataset):
        dataset.set_epoch(0)  # as the config's FeatureCacheHook does
    assert len(dataset) > 0, key
    info = dataset.get_data_info(0)
    assert 'img_path' in info and osp.isfile(info['img_path']), (key, info)
    assert 'gt_label' in info, (key, info)
    item = dataset[0]
    assert {'inputs', 'data_samples'} <= set(item), (key, sorted(item))
    sampler = loader.sampler
    assert len(sampler) > 0, key
    first = next(iter(sampler))
    assert 0 <= first < len(dataset), key


def num_classes_of(dataset) -> int:
    return len(dataset.metainfo['classes'])


def run_evaluator(evaluator_cfg, dataset) -> Dict[str, float]:
    """Evaluate random scores against the dataset's labels."""
    evaluator = Evaluator(evaluator_cfg)
    evaluator.dataset_meta = dataset.metainfo
    num_classes = num_classes_of(dataset)
    rng = np.random.default_rng(0)
    samples = []
    for idx in range(len(dataset)):
        sample = DataSample()
        sample.set_gt_label(dataset.get_data_info(idx)['gt_label'])
        sample.set_pred_score(torch.from_numpy(rng.random(num_classes)))
        samples.append(sample)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def scope_of(cfg: Config) -> str:
    return cfg.get('default_scope', 'mmpretrain')


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------
def test_discovery_sees_every_family():
    """Guard: the glob finds the known families and never ``_base_``."""
    families = {osp.dirname(p) for p in CONFIGS}
    assert {'baselines', 'mixing', 'lmpt', 'coop', 'clip'} <= families
    assert not any(p.startswith('_base_') for p in CONFIGS)
    # 7 DB-paper methods and the DR loss on COCO-LT and VOC-LT, DB-Focal on
    # NUS-WIDE-LT
    assert sum(p.startswith('baselines' + os.sep) for p in CONFIGS) == 17
    assert sum(p.startswith('mixing' + os.sep) for p in CONFIGS) >= 3


def test_stand_ins_replace_clip_and_pretrained_weights():
    """The stand-ins reach defaults, nested dicts and init_cfg lists."""
    cfg = dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, init_cfg=[
            dict(type='Pretrained', checkpoint='torchvision://resnet18'),
            dict(type='Constant', layer='BatchNorm2d', val=1)]),
        head=dict(type='VSIHead', num_classes=2, in_channels=8,
                  text_embeds=dict(type='CLIPClassTextEmbeds',
                                   classnames=['a', 'b']),
                  init_cfg=dict(type='Pretrained', checkpoint='x.pth')),
        pretrained='https://example.com/weights.pth')
    use_stand_ins(cfg)
    assert cfg['backbone']['init_cfg'] == [
        dict(type='Constant', layer='BatchNorm2d', val=1)]
    head = cfg['head']
    # CLIPClassTextEmbeds defaults to CLIP RN50 'openai' weights: replaced
    # though the config does not name them
    text = head['text_embeds']
    assert text['clip_pretrained'] is None
    assert text['clip_model_name'] is None
    assert text['clip_model_cfg'] == TINY_CLIP_224
    assert head['init_cfg'] is None
    assert cfg['pretrained'] is None
    own = dict(type='CLIPClassTextEmbeds', clip_model_cfg=dict(embed_dim=8),
               clip_pretrained='ckpt/tiny.pt')
    use_stand_ins(own)
    assert own['clip_model_cfg'] == dict(embed_dim=8)
    assert own['clip_pretrained'] is None
    absent = dict(type='VSIHead', text_embeds=dict(
        type='FileTextEmbeds', path='data/absent/embeds.pt'))
    use_stand_ins(absent)
    assert absent['text_embeds'] == dict(
        type='RandomTextEmbeds', dims=TINY_CLIP_224['embed_dim'])


def check_config(cfg: Config, name: str, save_dir: str) -> None:
    """Build and check every part of ``cfg`` (see the module docstring);
    run from a workspace holding its data."""
    check_feature_cache_hook(cfg)
    with DefaultScope.overwrite_default_scope(scope_of(cfg)):
        loaders = build_loaders(cfg)
        assert loaders, f'{name} has no dataloader'
        for key, loader in loaders.items():
            check_loader(key, loader)
        eval_loader = loaders.get('test_dataloader',
                                  loaders.get('val_dataloader'))
        classes = {num_classes_of(loader.dataset)
                   for loader in loaders.values()}
        assert len(classes) == 1, f'class counts differ: {classes}'

        model = build_model(cfg)
        head_classes = getattr(getattr(model, 'head', None), 'num_classes',
                               None)
        if head_classes is not None:
            assert head_classes in classes, (head_classes, classes)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if getattr(preprocessor, 'num_classes', None) is not None:
            assert preprocessor.num_classes in classes

        for key in ('val_evaluator', 'test_evaluator'):
            if cfg.get(key) is not None and eval_loader is not None:
                metrics = run_evaluator(cfg.get(key), eval_loader.dataset)
                totals = [v for k, v in metrics.items()
                          if k.split('/')[-1] == 'mAP']
                assert metrics and all(0 <= v <= 100 for v in totals), (
                    metrics)

        if cfg.get('train_dataloader') is not None:
            assert any(p.requires_grad for p in model.parameters())
            optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
            schedulers = cfg.get('param_scheduler') or []
            if isinstance(schedulers, dict):
                schedulers = [schedulers]
            epoch_length = max(len(loaders['train_dataloader']), 1)
            for scheduler in schedulers:
                PARAM_SCHEDULERS.build(
                    scheduler,
                    default_args=dict(optimizer=optim_wrapper,
                                      epoch_length=epoch_length))
        if cfg.get('visualizer') is not None:
            # the Runner builds it before the hooks (VisualizationHook
            # looks it up)
            VISUALIZERS.build(dict(cfg.visualizer, name=name,
                                   save_dir=save_dir))
        hooks = list((cfg.get('default_hooks') or {}).values())
        for hook in hooks + list(cfg.get('custom_hooks') or []):
            if hook is not None:
                HOOKS.build(hook.copy())


@pytest.mark.parametrize('rel_path', CONFIGS)
def test_config_builds(rel_path, workspace, monkeypatch, tmp_path):
    monkeypatch.chdir(workspace)
    speed_up_building(monkeypatch)
    cfg = Config.fromfile(osp.join(CONFIG_DIR, rel_path))
    prepare_data(workspace, cfg)
    check_config(cfg, rel_path, str(tmp_path))


@pytest.mark.parametrize('broken, error, match', [
    (dict(model=dict(head=dict(num_classes=80))), AssertionError,
     r'\(80, \{20\}\)'),
    (dict(model=dict(head=dict(loss=dict(type='NoSuchLoss')))), KeyError,
     'NoSuchLoss is not in'),
    (dict(train_dataloader=dict(dataset=dict(ann_file='absent.txt'))),
     FileNotFoundError, 'absent.txt'),
    (dict(val_evaluator=[dict(type='GroupMAP', class_freq=[1] * 20),
                         dict(type='GroupMAP', class_freq=[1] * 20)]),
     ValueError, 'same metric name'),
])
def test_check_config_catches_broken_configs(broken, error, match, workspace,
                                             monkeypatch, tmp_path):
    """The checks fail on a VOC-LT config with a wrong class count, an
    unknown component, a missing list file or colliding metric keys."""
    monkeypatch.chdir(workspace)
    speed_up_building(monkeypatch)
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'baselines', 'resnet50_erm_voc-lt.py'))
    prepare_data(workspace, cfg)
    cfg.merge_from_dict(broken)
    with pytest.raises(error, match=match):
        check_config(cfg, 'broken', str(tmp_path))
