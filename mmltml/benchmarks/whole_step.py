# Copyright (c) mmltml contributors. All rights reserved.
"""The whole training step of any classifier config, timed
(``tools/analysis_tools/benchmark_train.py --whole-step``).

Fine-tuning configs (HP-DVAL, LM-CLIP) train their image tower, so no
feature cache applies and the step has no separable stages: this times
``model.train_step`` as the runner calls it (data preprocessing, forward,
losses, backward, optimizer step) on a synthetic batch of the config's
image size and class count, with every pretrained weight replaced by
random weights (``clip_pretrained=None``, timm ``pretrained=False``), at
full size.
"""
import copy
import statistics
import time
from typing import Callable, List, Optional

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from .memory import current_memory_mib, peak_memory_mib, reset_peak_memory
from .setup import resolve_stats
from .train_batch import image_size, make_batch


def without_pretrained_weights(node) -> None:
    """Replace, in place, every ``clip_pretrained`` of a model config by
    None and every ``pretrained`` by False (random weights, full size)."""
    if isinstance(node, list):
        for item in node:
            without_pretrained_weights(item)
    if not isinstance(node, dict):
        return
    if 'clip_pretrained' in node:
        node['clip_pretrained'] = None
    if node.get('pretrained') not in (None, False):
        node['pretrained'] = False
    for value in node.values():
        without_pretrained_weights(value)


def config_num_classes(cfg: Config) -> int:
    """The class count of the config's data preprocessor."""
    preprocessor = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}
    if preprocessor.get('num_classes') is None:
        raise ValueError('the config names no data_preprocessor.num_classes')
    return int(preprocessor['num_classes'])


def build_whole_step(path: str, cfg_options: Optional[dict] = None,
                     batch_size: int = 16, train_images: int = 1909,
                     seed: int = 0,
                     device: torch.device = torch.device('cpu'),
                     size: Optional[int] = None) -> dict:
    """The model (train mode, random weights), its optimizer wrapper and a
    synthetic batch of ``path``'s config (images of side ``size``, by
    default the config's training size)."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    without_pretrained_weights(model_cfg)
    num_classes = config_num_classes(cfg)
    freq, stats_source = resolve_stats(model_cfg, num_classes, train_images)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg).to(device)
    model.train()
    names = [f'class {i}' for i in range(num_classes)]
    batch = make_batch(names, batch_size, size or image_size(cfg), freq,
                       seed)
    return dict(cfg=cfg, model=model, batch=batch, num_classes=num_classes,
                class_stats=stats_source,
                optim_wrapper=build_optim_wrapper(model, cfg.optim_wrapper))


def time_whole_steps(model, optim_wrapper, batch: dict, iters: int,
                     warmup: int, device: torch.device,
                     log: Callable[[str], None] = print) -> dict:
    """Median seconds of ``iters`` ``model.train_step`` calls after
    ``warmup`` untimed ones (peak memory over the warm-up), and the
    trainable parameter count."""
    kind = reset_peak_memory(device)
    before = current_memory_mib(device)
    for _ in range(max(warmup, 1)):
        model.train_step(copy.deepcopy(batch), optim_wrapper)
    peak = peak_memory_mib(device)
    log('warm-up done')
    samples: List[float] = []
    for i in range(iters):
        data = copy.deepcopy(batch)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model.train_step(data, optim_wrapper)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        samples.append(time.perf_counter() - start)
        log(f'step {i + 1}/{iters}: {samples[-1]:.2f} s')
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(step_s=statistics.median(samples), samples_s=samples,
                peak_memory_mib=peak, memory_before_mib=before,
                memory_kind=kind, trainable_params=trainable)
