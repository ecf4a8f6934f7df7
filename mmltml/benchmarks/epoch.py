# Copyright (c) mmltml contributors. All rights reserved.
"""A COCO-LT-sized epoch, cached vs uncached, from measured parts: the
step stages, a first caption encoding and an evaluation over cached
features."""
import math
import time
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from .feature_cache import feature_batch
from .step_timing import PATHS, STAGES, TRUNCATE, StageTimer, text_truncation


def time_caption_encoding(model, batch: dict, truncate: bool) -> float:
    """ms per caption of a first (cache-missing) caption encoding; the
    caption cache is restored afterwards."""
    backbone = model.backbone
    captions = [s.caption for s in batch['data_samples']]
    saved = dict(backbone._caption_cache)
    backbone._caption_cache.clear()
    with text_truncation(model, truncate):
        start = time.perf_counter()
        backbone.encode_captions(captions)
        elapsed = (time.perf_counter() - start) * 1e3
    backbone._caption_cache.clear()
    backbone._caption_cache.update(saved)
    return elapsed / len(captions)


def caption_encoding_ms(model, batch: dict) -> Dict[str, float]:
    """:func:`time_caption_encoding` on each path."""
    return {p: time_caption_encoding(model, batch, TRUNCATE[p])
            for p in PATHS}


def measure_eval(model, feature_dim: int, num_images: int, batch_size: int,
                 num_classes: int, device: torch.device) -> dict:
    """Seconds to run ``val_step`` over ``num_images`` cached features
    (under ``torch.no_grad``, as mmengine's ``ValLoop`` runs it), and how
    often the text tower ran (the prompts are encoded once, memoised)."""
    generator = torch.Generator().manual_seed(1)
    feats = torch.randn(num_images, feature_dim, generator=generator)
    model.eval()
    runs = []
    hook = model.backbone.clip.ln_final.register_forward_hook(
        lambda *_: runs.append(1))
    timer = StageTimer(device)
    with timer('eval'), torch.no_grad():
        for start in range(0, num_images, batch_size):
            chunk = feats[start:start + batch_size]
            samples = [DataSample().set_gt_label([i % num_classes])
                       for i in range(start, start + len(chunk))]
            model.val_step(feature_batch(chunk, samples))
    hook.remove()
    model.train()
    seconds = timer.ms['eval'] / 1e3
    return dict(num_images=num_images, batch_size=batch_size,
                seconds=seconds, images_per_s=num_images / seconds,
                text_tower_runs=len(runs))


def epoch_estimate(cfg: Config, steps: Dict[str, dict], batch_size: int,
                   cache_ms_per_image: float, caption_ms: Dict[str, float],
                   num_images: int, eval_result: Optional[dict],
                   num_test: int) -> dict:
    """COCO-LT-sized epoch, cached vs uncached, from measured parts.

    Per image: the image stage (preprocessing + encoder); per step: text,
    loss and backward + step (independent of the batch size). One-off:
    encoding both flips of every training image for the cache, and the
    first encoding of every caption (both paths pay it once).
    """
    train_bs = int(cfg.train_dataloader.batch_size)
    num_steps = math.ceil(num_images / train_bs)
    flips = 2 if any(t.get('type') == 'RandomFlip'
                     for t in cfg.get('train_pipeline', [])) else 1
    per_step = {
        p: sum(steps[p][f'{k}_ms'] for k in STAGES[1:])
        for p in PATHS
    }
    per_image = {p: steps[p]['image_ms'] / batch_size for p in PATHS}
    epoch_s = {p: (num_images * per_image[p] + num_steps * per_step[p]) / 1e3
               for p in PATHS}
    uncached_truncated = (num_images * per_image['plain'] +
                          num_steps * per_step['optimised']) / 1e3
    cache_s = flips * num_images * cache_ms_per_image / 1e3
    captions_s = {p: num_images * caption_ms[p] / 1e3 for p in PATHS}
    max_epochs = int(cfg.train_cfg.get('max_epochs', 1))
    schedule = {
        'plain': max_epochs * epoch_s['plain'] + captions_s['plain'],
        'optimised': (cache_s + max_epochs * epoch_s['optimised'] +
                      captions_s['optimised'])
    }
    out = dict(
        method='extrapolated from the measured step stages: images x '
        'image-stage ms per image + steps x (text + loss + backward/step) '
        'ms; image decoding and data loading are not included',
        train_images=num_images, train_batch_size=train_bs,
        steps=num_steps,
        uncached_epoch_s=epoch_s['plain'],
        cached_epoch_s=epoch_s['optimised'],
        epoch_speedup=epoch_s['plain'] / epoch_s['optimised'],
        uncached_truncated_epoch_s=uncached_truncated,
        caching_only_speedup=uncached_truncated / epoch_s['optimised'],
        cache_build_s=cache_s, cache_views=flips,
        cache_ms_per_image=cache_ms_per_image,
        caption_encoding_s=captions_s,
        first_epoch_speedup=(epoch_s['plain'] + captions_s['plain']) /
        (cache_s + epoch_s['optimised'] + captions_s['optimised']),
        max_epochs=max_epochs, schedule_train_s=schedule,
        schedule_speedup=schedule['plain'] / schedule['optimised'])
    if eval_result is not None:
        out['test_cache_build_s'] = num_test * cache_ms_per_image / 1e3
        out['uncached_eval_s'] = (num_test * cache_ms_per_image / 1e3 +
                                  eval_result['seconds'])
    return out
