# Copyright (c) mmltml contributors. All rights reserved.
"""Config, class statistics and model of a CLIP-prompt training benchmark
(``tools/analysis_tools/benchmark_train.py``)."""
import copy
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

#: COCO-LT-like extremes of the synthetic class counts (most and least
#: frequent class).
TOP_COUNT, BOTTOM_COUNT = 1128, 6


def load_config(path: str, cfg_options: Optional[dict] = None,
                random_weights: bool = False) -> Config:
    """A CLIP-prompt config with a prompt learner (``ValueError``
    otherwise); ``random_weights`` builds the CLIP without weights."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    backbone = cfg.model.backbone
    if backbone.get('type') != 'CLIPPromptBackbone':
        raise ValueError(f'{path}: benchmark_train needs a '
                         'CLIPPromptBackbone config, got '
                         f'{backbone.get("type")}')
    if backbone.get('prompt_learner') is None:
        raise ValueError(f'{path}: nothing is trained without a prompt '
                         'learner (model.backbone.prompt_learner)')
    if random_weights:
        backbone.clip_pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def config_num_classes(cfg: Config) -> int:
    """Number of class names of the config's backbone."""
    from mmltml.models.backbones.clip_prompt_backbone import \
        resolve_class_names
    return len(resolve_class_names(cfg.model.backbone.classnames))


def long_tailed_freq(num_classes: int, top: int = TOP_COUNT,
                     bottom: int = BOTTOM_COUNT) -> List[int]:
    """COCO-LT-like class counts, geometric from ``top`` to ``bottom``."""
    ratio = bottom / top
    return [max(1, round(top * ratio**(i / max(num_classes - 1, 1))))
            for i in range(num_classes)]


def _stats_nodes(node) -> Iterator[dict]:
    """Every dict of a config tree that has a ``class_stats`` key."""
    if isinstance(node, dict):
        if 'class_stats' in node:
            yield node
        for value in node.values():
            yield from _stats_nodes(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _stats_nodes(value)


def resolve_stats(model_cfg: dict, num_classes: int,
                  num_images: int) -> Tuple[List[int], str]:
    """Class counts for the synthetic labels and where they come from.

    Unreadable or wrong-sized ``class_stats`` of ``model_cfg`` are replaced
    (in place) by long-tailed synthetic counts, so the model builds.
    """
    from mmltml.datasets import load_class_stats
    counts = long_tailed_freq(num_classes)
    synthetic = dict(class_freq=counts,
                     num_images=max(num_images, 2 * max(counts)))
    freq = None
    source = f'synthetic long-tailed counts ({TOP_COUNT}..{BOTTOM_COUNT})'
    for node in _stats_nodes(model_cfg):
        try:
            stats = load_class_stats(node['class_stats'], num_classes)
            freq, source = list(stats['class_freq']), 'config class_stats'
        except (OSError, ValueError, TypeError):
            node['class_stats'] = synthetic
    return (freq or synthetic['class_freq']), source


def build_model(cfg: Config, num_classes: int,
                device: torch.device) -> Tuple[torch.nn.Module, OptimWrapper]:
    """The config's model (``num_classes`` generic class names when they
    differ from the config's) in train mode, and its optimizer wrapper."""
    model_cfg = copy.deepcopy(cfg.model)
    if num_classes != config_num_classes(cfg):
        model_cfg.backbone.classnames = [
            f'class {i}' for i in range(num_classes)
        ]
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model_cfg.data_preprocessor = dict(model_cfg.data_preprocessor or {})
    model_cfg.data_preprocessor['num_classes'] = num_classes
    model = MODELS.build(model_cfg).to(device)
    model.train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def resolve_device(name: str) -> torch.device:
    """``'auto'``: CUDA when available, else CPU."""
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(name)
