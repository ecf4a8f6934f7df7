# Copyright (c) mmltml contributors. All rights reserved.
"""Peak memory and time of a CLIP-prompt training step against the number
of classes (``tools/analysis_tools/benchmark_classes.py``).

One point is one class count and one text path (the chunked text encoder
with a chunk size, or plain autograd over all prompts), measured in its own
process (:func:`measure_point`; the tool starts a fresh Python per point so
that no allocator state or peak carries over): the config's model with
``num_classes`` generic class names (``'class 0'``, ...), long-tailed
synthetic class statistics, a batch of random cached image features with
long-tailed labels and captions, and the config's optimizer. Each step is
``model.train_step``, metered per stage (text forward, loss, backward +
optimizer step), in wall time and in the process's CPU time (steadier than
wall time on a shared machine); the peak RSS (``VmHWM``) is reset after the
model, the batch and the captions' features are built, so it covers the
steps only.

The memory a class needs by itself is the class-specific context, its
gradient and the optimizer's state of it (:func:`class_specific_mib`);
:func:`summarise_points` subtracts it and fits the slope of what remains.
"""
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .feature_cache import feature_batch
from .flops import StageFlops
from .memory import current_memory_mib, peak_memory_mib, reset_peak_memory
from .setup import build_model, load_config, resolve_stats
from .step_timing import StageTimer, metered_step
from .train_batch import make_batch

#: Config of the measured model (LMPT: ViT-B/16, 16 class-specific context
#: tokens, truncated text, DB-Focal + CSE, SGD with momentum).
DEFAULT_CONFIG = 'configs/lmpt/lmpt_vitb16_coco-lt.py'


def class_specific_mib(model, optim_wrapper) -> float:
    """MiB of the trainable tensors, their gradients (held during every
    step, whether or not ``zero_grad`` frees them after it) and the
    optimizer's state of them (momentum, Adam moments): what the classes'
    own parameters need, whatever the text path."""
    total = 0
    state = optim_wrapper.optimizer.state
    for param in model.parameters():
        if not param.requires_grad:
            continue
        total += 2 * param.numel() * param.element_size()
        total += sum(t.numel() * t.element_size()
                     for t in state.get(param, {}).values()
                     if isinstance(t, torch.Tensor))
    return total / 2**20


def measure_point(num_classes: int,
                  chunk: Optional[int],
                  config: str = DEFAULT_CONFIG,
                  steps: int = 2,
                  batch_size: int = 32,
                  threads: Optional[int] = None,
                  seed: int = 0,
                  count_flops: bool = False) -> dict:
    """One point: ``steps`` training steps of ``config`` (random weights)
    with ``num_classes`` classes; ``chunk`` is the backbone's
    ``text_chunk_size`` (0: plain autograd over all prompts; None: the
    automatic size). The times
    of the steps after the first are reported (of the only step when
    ``steps=1``); the first allocates the optimizer's state. With
    ``count_flops`` one more step is counted in FLOPs per stage
    (:class:`~mmltml.benchmarks.flops.StageFlops`), after the peak memory
    is read: a ratio that does not depend on the machine's load."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    device = torch.device('cpu')
    cfg = load_config(config, {'model.backbone.text_chunk_size': chunk},
                      random_weights=True)
    freq, _ = resolve_stats(cfg.model, num_classes, 1909)
    model, optim_wrapper = build_model(cfg, num_classes, device)
    samples = make_batch(model.backbone.classnames, batch_size, 8, freq,
                         seed)['data_samples']
    feats = torch.randn(batch_size, model.backbone.feature_dim,
                        generator=torch.Generator().manual_seed(seed))
    batch = feature_batch(feats, samples)
    # the captions' features are computed once per run (the CSE loss's
    # cache): before the steps, as in every step after the first epoch
    model.caption_embeddings(samples)
    memory_kind = reset_peak_memory(device)
    before = current_memory_mib(device)
    stage_ms: List[Dict[str, float]] = []
    for _ in range(max(steps, 1)):
        timer = StageTimer(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        metered_step(model, optim_wrapper, batch, timer)
        stage_ms.append(dict(
            timer.ms, total=(time.perf_counter() - start) * 1e3,
            cpu=(time.process_time() - cpu_start) * 1e3))
    timed = stage_ms[1:] or stage_ms
    peak = peak_memory_mib(device)
    flops = None
    if count_flops:
        meter = StageFlops()
        metered_step(model, optim_wrapper, batch, meter)
        flops = meter.flops
    learner = model.backbone.prompt_learner
    return dict(
        num_classes=num_classes, chunk=chunk,
        used_chunk=model.backbone.class_text_chunk(),
        text_tokens=int(learner.eot.max()) + 1,
        steps=len(stage_ms), timed_steps=len(timed),
        step_s=float(np.median([s['total'] for s in timed])) / 1e3,
        text_forward_s=float(np.median([s.get('text', 0.0)
                                        for s in timed])) / 1e3,
        backward_step_s=float(np.median([s.get('backward_step', 0.0)
                                         for s in timed])) / 1e3,
        step_cpu_s=float(np.median([s['cpu'] for s in timed])) / 1e3,
        step_s_all=[round(s['total'] / 1e3, 3) for s in stage_ms],
        peak_rss_mib=peak,
        step_flops=flops,
        rss_before_steps_mib=before,
        class_specific_mib=class_specific_mib(model, optim_wrapper),
        memory_kind=memory_kind,
        threads=torch.get_num_threads())


def summarise_points(points: Sequence[dict]) -> dict:
    """Per path: peak beyond the class-specific memory, its least-squares
    slope (MiB per 1,000 classes), the growth of that memory from the
    smallest to the largest class count at or above 1,000, and the time
    ratio chunked / plain per class count where both ran (wall and CPU
    time, and FLOPs where counted)."""
    summary = {}
    for path in ('chunked', 'plain'):
        rows = sorted((p for p in points if _path(p) == path),
                      key=lambda p: p['num_classes'])
        if not rows:
            continue
        classes = np.array([p['num_classes'] for p in rows], dtype=float)
        beyond = np.array([p['peak_rss_mib'] - p['class_specific_mib']
                           for p in rows])
        peak = np.array([p['peak_rss_mib'] for p in rows])
        entry = dict(
            classes=classes.astype(int).tolist(),
            beyond_class_specific_mib=beyond.round(1).tolist())
        if len(rows) > 1:
            entry['peak_slope_mib_per_1000'] = float(
                np.polyfit(classes, peak, 1)[0] * 1000)
            entry['beyond_slope_mib_per_1000'] = float(
                np.polyfit(classes, beyond, 1)[0] * 1000)
        large = [i for i, c in enumerate(classes) if c >= 1000]
        if len(large) > 1:
            lo, hi = large[0], large[-1]
            entry['growth'] = dict(
                from_classes=int(classes[lo]), to_classes=int(classes[hi]),
                fraction=float(beyond[hi] / beyond[lo] - 1))
        summary[path] = entry
    plain = {p['num_classes']: p for p in points if _path(p) == 'plain'}
    for key in ('step_s', 'step_cpu_s', 'step_flops'):
        summary[f'{key}_ratio_chunked_to_plain'] = {
            p['num_classes']: _total(p[key]) / _total(
                plain[p['num_classes']][key])
            for p in points
            if _path(p) == 'chunked' and p['num_classes'] in plain
            and p.get(key) and plain[p['num_classes']].get(key)
        }
    return summary


def _total(value) -> float:
    """A time, or the sum of FLOPs per stage."""
    return sum(value.values()) if isinstance(value, dict) else value


def _path(point: dict) -> str:
    return 'chunked' if point['used_chunk'] else 'plain'
