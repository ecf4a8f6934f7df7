# Copyright (c) mmltml contributors. All rights reserved.
"""The training step of a fully fine-tuned CLIP config (LM-CLIP,
``CLIPFineTuneHead``), metered per stage, and what an epoch costs.

Full fine-tuning has one path only: the image tower trains, so its
features change at every step and cannot be cached (neither for training
nor for the evaluations between epochs), and the text tower trains, so the
class prompts are re-encoded at every step. The stages of
``model.train_step``:

* ``image``: the data preprocessor and the backbone (the image tower);
* ``text``: the trainable text tower, on the C class prompts
  (``head.text_embeds``) and on the B label captions
  (``head.text_tower.encode_texts``);
* ``loss``: the rest of ``model.loss`` and ``model.parse_losses`` (the
  label captions, logits, BAL, the contrastive loss);
* ``backward_step``: ``optim_wrapper.update_params`` (backward through
  both towers and the AdamW step over every parameter).
"""
import copy
import math
import statistics
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from .memory import peak_memory_mib, reset_peak_memory
from .step_timing import StageTimer, metered_stages

STAGES = ('image', 'text', 'loss', 'backward_step')
HEAD = 'CLIPFineTuneHead'


def is_fine_tune_config(cfg: Config) -> bool:
    """Whether the config's head is a :class:`CLIPFineTuneHead`."""
    return cfg.model.get('head', {}).get('type') == HEAD


def load_config(path: str, cfg_options=None,
                random_weights: bool = False) -> Config:
    """A ``CLIPFineTuneHead`` config (``ValueError`` otherwise);
    ``random_weights`` builds both towers without weights."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if not is_fine_tune_config(cfg):
        raise ValueError(f'{path}: not a {HEAD} config')
    if random_weights:
        cfg.model.backbone.clip_pretrained = None
        cfg.model.head.text_embeds.clip_pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def class_names(cfg: Config) -> List[str]:
    """The class names of the config's class prompts."""
    from mmltml.datasets.categories import get_class_names
    names = cfg.model.head.text_embeds.classnames
    return get_class_names(names) if isinstance(names, str) else list(names)


def build_model(cfg: Config, device: torch.device
                ) -> Tuple[torch.nn.Module, OptimWrapper]:
    """The config's model (initialised: pretrained weights loaded when the
    config has them) in train mode, and its optimizer wrapper."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    model.init_weights()
    model = model.to(device).train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def stage_methods(model,
                  optim_wrapper) -> Sequence[Tuple[object, str, str]]:
    """``(object, method name, stage)`` of every metered method."""
    head = model.head
    return ((model.data_preprocessor, 'forward', 'image'),
            (model.backbone, 'forward', 'image'),
            (head.text_embeds, 'forward', 'text'),
            (head.text_tower, 'encode_texts', 'text'),
            (model, 'loss', 'loss'), (model, 'parse_losses', 'loss'),
            (optim_wrapper, 'update_params', 'backward_step'))


def timed_steps(model, optim_wrapper, batch: dict, iters: int, warmup: int,
                device: torch.device,
                log: Callable[[str], None] = lambda _: None) -> dict:
    """Median ms per stage (and the total) of ``iters`` steps after
    ``warmup`` untimed ones, every total, images per second and the peak
    memory of the warm-up steps."""
    memory_kind = reset_peak_memory(device)
    for _ in range(warmup):
        model.train_step(batch, optim_wrapper)
    peak = peak_memory_mib(device)
    samples: List[Dict[str, float]] = []
    for _ in range(iters):
        timer = StageTimer(device)
        with metered_stages(model, optim_wrapper, timer,
                            stage_methods(model, optim_wrapper)), \
                timer('other'):
            model.train_step(batch, optim_wrapper)
        ms = {k: timer.ms.get(k, 0.0) for k in STAGES}
        ms['total'] = sum(timer.ms.values())
        samples.append(ms)
        log(f'step: {ms["total"]:.0f} ms')
    keys = list(STAGES) + ['total']
    med = {f'{k}_ms': statistics.median(s[k] for s in samples)
           for k in keys}
    batch_size = len(batch['data_samples'])
    med.update(total_ms_all=[round(s['total'], 3) for s in samples],
               images_per_s=batch_size / med['total_ms'] * 1e3,
               peak_memory_mib=peak, memory=memory_kind)
    return med


def eval_ms_per_image(model, batch: dict, device: torch.device) -> float:
    """ms per image of ``model.val_step`` (forward only, under
    ``torch.no_grad`` as mmengine's loops run it): each evaluation encodes
    every test image again (the tower changed since the last one)."""
    model.eval()
    timer = StageTimer(device)
    with timer('eval'), torch.no_grad():
        model.val_step(batch)
    model.train()
    return timer.ms['eval'] / len(batch['data_samples'])


def epoch_estimate(cfg: Config, step: dict, batch_size: int,
                   eval_ms: float, train_images: int,
                   test_images: int) -> dict:
    """One training epoch of ``train_images`` images and one evaluation of
    ``test_images``, EXTRAPOLATED from the median step (at the measured
    ``batch_size``: time the config's own batch size for its recipe) and
    the measured per-image evaluation cost; the schedule from the config's
    epochs and evaluation interval."""
    steps = math.ceil(train_images / batch_size)
    epoch_s = steps * step['total_ms'] / 1e3
    eval_s = test_images * eval_ms / 1e3
    train_cfg = cfg.get('train_cfg', {})
    epochs = int(train_cfg.get('max_epochs', 1))
    interval = int(train_cfg.get('val_interval', epochs))
    evals = epochs // max(interval, 1)
    return dict(train_images=train_images, batch_size=batch_size,
                config_batch_size=cfg.train_dataloader.batch_size,
                steps=steps, epoch_s=epoch_s, test_images=test_images,
                eval_ms_per_image=eval_ms, eval_s=eval_s,
                max_epochs=epochs, evaluations=evals,
                schedule_h=(epochs * epoch_s + evals * eval_s) / 3600)
