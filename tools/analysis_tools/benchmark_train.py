# Copyright (c) mmltml contributors. All rights reserved.
"""Benchmark the training step of a CLIP-prompt config (LMPT, CoOp).

Two paths through the same model, on the same synthetic batch:

* **plain**: the frozen image encoder runs in every step on the images and
  the text tower runs on all context positions (``truncate_text=False``,
  77 tokens for OpenAI CLIP);
* **optimised**: the image features come from an exact feature cache
  (built once, in chunks, with the model's own data preprocessor and
  encoder, as :class:`FeatureCacheHook` does) and the text tower stops at
  the longest end-of-text position (``truncate_text=True``).

Each step is split into image encoding (data preprocessing + encoder),
text encoding (class prompts, forward), loss (classification + CSE, with
the caption embeddings) and backward + optimizer step (the config's
optimizer). Before timing, the tool checks that both paths give the same
logits, losses and updated prompts (within stated float tolerances) and
that its staged step equals ``model.train_step``; a mismatch exits with
status 1.

``--epoch`` adds a COCO-LT-sized epoch (1,909 training images at the
config's batch size), cached vs uncached, extrapolated from the measured
per-step and per-image times (stated in the output) and counted in FLOPs
(the ceiling of the cached path), and measures the evaluation of
5,000 cached test images (batch 128, forward only).

``--end-to-end`` instead times the config's whole recipe (all epochs with
its evaluation cadence, from the image files to the final group-mAP table)
through ``tools/train.py``, once as the **reference** path (no feature
cache: the image encoder runs in every step and every evaluation; the text
tower over all 77 positions) and once as the **fast** path (the config as
it is), and prints both wall times, both final tables and their largest
difference. With ``--fake-images`` every listed image is replaced by a
stand-in JPEG (COCO-sized, 640 x 480, smooth random content, written once
under ``WORK_DIR/fake_images``), so the recipe runs where only the list
files exist (weights: ``--random-weights``).

Example::

    python tools/analysis_tools/benchmark_train.py \\
        configs/lmpt/lmpt_vitb16_coco-lt.py --random-weights \\
        --batch-size 32 --iters 5 --warmup 1 --epoch \\
        --out work_dirs/benchmark_train.json
"""
import argparse
import copy
import ctypes
import gc
import glob
import json
import math
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmltml.models.utils.clip_features import CLIPPromptFeatures
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils import flop_counter

PATHS = ('plain', 'optimised')
TRAIN_TOOL = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'train.py')
GROUP_KEYS = ('lt/mAP', 'lt/mAP_head', 'lt/mAP_medium', 'lt/mAP_tail')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
STAGES = ('image', 'text', 'loss', 'backward_step')
#: Float tolerances of the plain/optimised comparison (fp32): truncation
#: and the cache change only the blocking of matrix products.
RTOL = 1e-4
ATOL_COS = 1e-5  # logits are compared at atol = ATOL_COS * logit_scale
ATOL_LOSS = 1e-5
ATOL_PARAM = 1e-7
CAPTION_WORDS = ('a', 'the', 'of', 'on', 'with', 'next', 'to', 'in',
                 'small', 'large', 'white', 'red', 'sitting', 'standing',
                 'near', 'table', 'street', 'room', 'man', 'woman')


class MismatchError(AssertionError):
    """The plain and the optimised path disagree."""


def log(message: str) -> None:
    """Progress on stderr (CPU runs take minutes)."""
    print(f'[benchmark_train {time.strftime("%H:%M:%S")}] {message}',
          file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# arguments, config, model
# ---------------------------------------------------------------------------
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark a CLIP-prompt training step: plain (image '
        'encoder every step, full text length) vs optimised (cached image '
        'features, truncated text).')
    parser.add_argument('config', help='CLIP-prompt config file')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument(
        '--num-classes', type=int, help='default: the config\'s classes')
    parser.add_argument('--iters', type=int, default=10,
                        help='timed steps per path (median reported)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed steps per path (peak memory)')
    parser.add_argument(
        '--random-weights',
        action='store_true',
        help='build the CLIP with random weights (clip_pretrained=None)')
    parser.add_argument('--device', default='auto',
                        help="'auto' (cuda if available), 'cpu', 'cuda'")
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--epoch',
        action='store_true',
        help='add the COCO-LT-sized epoch estimate and the cached '
        'evaluation measurement')
    parser.add_argument('--train-images', type=int, default=1909)
    parser.add_argument('--test-images', type=int, default=5000)
    parser.add_argument('--eval-batch-size', type=int, default=128)
    parser.add_argument('--cache-batch-size', type=int, default=64,
                        help='images per encoder call when caching')
    parser.add_argument(
        '--end-to-end',
        action='store_true',
        help='time the whole recipe through tools/train.py, reference path '
        'vs fast path')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/benchmark_end_to_end',
        help='--end-to-end: where the two runs write')
    parser.add_argument(
        '--fake-images',
        action='store_true',
        help='--end-to-end: read stand-in JPEGs instead of the real images')
    parser.add_argument(
        '--fake-image-size',
        type=int,
        nargs=2,
        default=(640, 480),
        metavar=('W', 'H'),
        help='size of the stand-in JPEGs (default: COCO-sized 640 x 480)')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.backbone.get('type') != 'CLIPPromptBackbone':
        raise ValueError('benchmark_train needs a CLIPPromptBackbone config, '
                         f'got {cfg.model.backbone.get("type")}')
    if cfg.model.backbone.get('prompt_learner') is None:
        raise ValueError('nothing is trained without a prompt learner')
    if args.random_weights:
        cfg.model.backbone.clip_pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def config_num_classes(cfg: Config) -> int:
    from mmltml.models.backbones.clip_prompt_backbone import \
        resolve_class_names
    return len(resolve_class_names(cfg.model.backbone.classnames))


def long_tailed_freq(num_classes: int, top: int = 1128,
                     bottom: int = 6) -> List[int]:
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
    """Class counts for the synthetic labels, replacing unreadable or
    wrong-sized ``class_stats`` by long-tailed synthetic counts."""
    from mmltml.datasets import load_class_stats
    counts = long_tailed_freq(num_classes)
    synthetic = dict(class_freq=counts,
                     num_images=max(num_images, 2 * max(counts)))
    freq, source = None, 'synthetic long-tailed counts (1128..6)'
    for node in _stats_nodes(model_cfg):
        try:
            stats = load_class_stats(node['class_stats'], num_classes)
            freq, source = list(stats['class_freq']), 'config class_stats'
        except (OSError, ValueError, TypeError):
            node['class_stats'] = synthetic
    return (freq or synthetic['class_freq']), source


def build_model(cfg: Config, num_classes: int,
                device: torch.device) -> Tuple[torch.nn.Module, object]:
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
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


# ---------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------
def image_size(cfg: Config) -> int:
    for transform in cfg.get('train_pipeline', []):
        if transform.get('type') in ('Resize', 'RandomResizedCrop'):
            scale = transform.get('scale')
            return int(scale[0] if isinstance(scale, (list, tuple))
                       else scale)
    return 224


def synthetic_labels(rng: np.random.Generator, num: int,
                     freq: Sequence[int]) -> List[List[int]]:
    """Multi-hot label sets drawn in proportion to the class counts."""
    prob = np.asarray(freq, dtype=np.float64)
    prob /= prob.sum()
    labels = []
    for _ in range(num):
        k = min(len(freq), 1 + rng.poisson(1.9))
        labels.append(sorted(rng.choice(len(freq), k, replace=False,
                                        p=prob).tolist()))
    return labels


def synthetic_caption(rng: np.random.Generator, names: Sequence[str],
                      labels: Sequence[int]) -> str:
    """Five joined sentences, like a COCO-LT caption line (> 77 tokens)."""
    sentences = []
    for _ in range(5):
        words = rng.choice(CAPTION_WORDS, 8).tolist()
        name = names[labels[rng.integers(len(labels))]]
        sentences.append(' '.join(words[:4] + [name] + words[4:]) + '.')
    return ' '.join(sentences)


def make_batch(model, num: int, size: int, freq: Sequence[int],
               seed: int) -> dict:
    """A collated batch: uint8 images [B, 3, S, S] and data samples with
    labels and captions."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (num, 3, size, size), dtype=torch.uint8,
                           generator=generator)
    names = model.backbone.classnames
    samples = []
    for labels in synthetic_labels(rng, num, freq):
        sample = DataSample().set_gt_label(labels)
        sample.set_field(synthetic_caption(rng, names, labels), 'caption',
                         field_type='metainfo')
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


def with_inputs(batch: dict, inputs: torch.Tensor) -> dict:
    samples = [copy.deepcopy(s) for s in batch['data_samples']]
    return dict(inputs=inputs, data_samples=samples)


@torch.no_grad()
def encode_images(model, images: torch.Tensor, chunk: int) -> torch.Tensor:
    """Cached features of ``images`` as :class:`FeatureCacheHook` computes
    them: eval mode, the model's data preprocessor, ``encode_image``."""
    was_training = model.training
    model.eval()
    feats = []
    for start in range(0, len(images), chunk):
        data = model.data_preprocessor(
            dict(inputs=images[start:start + chunk]), False)
        feats.append(model.backbone.encode_image(data['inputs']).cpu())
    model.train(was_training)
    return torch.cat(feats)


# ---------------------------------------------------------------------------
# timing, memory
# ---------------------------------------------------------------------------
class StageTimer:
    """Wall-clock milliseconds per named stage (CUDA-synchronised)."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == 'cuda'
        self.ms: Dict[str, float] = {}

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.sync()
        start = time.perf_counter()
        yield
        self.sync()
        elapsed = (time.perf_counter() - start) * 1e3
        self.ms[name] = self.ms.get(name, 0.0) + elapsed


def _cpu_attention_flops(query, key, value, *args, out_shape=None,
                         **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_attention_backward_flops(grad, query, key, value, *args,
                                  out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad, query, key, value)


def _fused_attention_block_flops(query, key, value, embed_dim, num_heads,
                                 *args, out_shape=None, **kwargs) -> int:
    """``nn.MultiheadAttention``'s inference fast path (frozen towers under
    ``no_grad``): Q/K/V and output projections plus attention."""
    batch, len_q, width = query
    len_k = key[1]
    projections = 2 * batch * width * width * (2 * len_q + 2 * len_k)
    return projections + 4 * batch * len_q * len_k * width


#: Attention kernels torch's counter does not know: the CPU flash kernel
#: (it counts the CUDA ones) and the fused MultiheadAttention block (ops a
#: torch build lacks are skipped).
EXTRA_FLOP_FORMULAS = {
    getattr(torch.ops.aten, name): formula
    for name, formula in (
        ('_scaled_dot_product_flash_attention_for_cpu', _cpu_attention_flops),
        ('_scaled_dot_product_flash_attention_for_cpu_backward',
         _cpu_attention_backward_flops),
        ('_native_multi_head_attention', _fused_attention_block_flops),
    ) if hasattr(torch.ops.aten, name)
}


class StageFlops:
    """Floating-point operations per named stage (the :class:`StageTimer`
    interface), as ``torch.utils.flop_counter.FlopCounterMode`` counts
    them: matrix products and attention, forward and backward."""

    def __init__(self) -> None:
        self.flops: Dict[str, int] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with flop_counter.FlopCounterMode(
                display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as mode:
            yield
        self.flops[name] = self.flops.get(name, 0) + mode.get_total_flops()


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS, so that RSS (and its peak)
    reflects live memory, not what an earlier path left in malloc's
    free lists."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_memory(device: torch.device) -> str:
    """Reset the peak counter; returns what :func:`peak_memory_mib`
    measures."""
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return 'torch.cuda.max_memory_allocated'
    release_free_memory()
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM (Linux >= 4.0)
        return 'peak RSS (VmHWM, reset per path after malloc_trim)'
    except OSError:
        return 'peak RSS since process start (ru_maxrss)'


def peak_memory_mib(device: torch.device) -> float:
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------
# one training step, staged
# ---------------------------------------------------------------------------
@contextmanager
def text_truncation(model, truncate: bool) -> Iterator[None]:
    backbone = model.backbone
    old, backbone.truncate_text = backbone.truncate_text, truncate
    try:
        yield
    finally:
        backbone.truncate_text = old


def staged_step(model, optim_wrapper, batch: dict, timer: StageTimer,
                keep_logits: bool = False) -> dict:
    """``model.train_step`` split into timed stages; returns the losses
    (and the logits with ``keep_logits``)."""
    backbone, head = model.backbone, model.head
    with optim_wrapper.optim_context(model):
        with timer('image'):
            data = model.data_preprocessor(batch, True)
            samples = data['data_samples']
            image_feats = backbone.encode_image(data['inputs'])
        with timer('text'):
            text_feats, prompts = backbone.class_text_features()
        with timer('loss'):
            feats = CLIPPromptFeatures(image_feats, text_feats,
                                       backbone.logit_scale, prompts)
            captions = (model.caption_embeddings(samples)
                        if getattr(head, 'needs_captions', False) else None)
            losses = head.loss(feats, samples, captions=captions)
            loss, log_vars = model.parse_losses(losses)
    with timer('backward_step'):
        optim_wrapper.update_params(loss)
    out = dict(log_vars)
    if keep_logits:
        with torch.no_grad():
            out['logits'] = head(feats).detach().cpu()
    return out


def trainable_state(model, optim_wrapper) -> dict:
    return dict(
        params={k: v.detach().clone()
                for k, v in model.named_parameters() if v.requires_grad},
        optim=copy.deepcopy(optim_wrapper.optimizer.state_dict()))


def restore_state(model, optim_wrapper, state: dict) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state['params'].items():
            params[name].copy_(value)
    optim_wrapper.optimizer.load_state_dict(copy.deepcopy(state['optim']))
    optim_wrapper.zero_grad()


# ---------------------------------------------------------------------------
# exactness
# ---------------------------------------------------------------------------
def compare_results(plain: dict, optimised: dict, logit_scale: float,
                    rtol: float = RTOL) -> Dict[str, dict]:
    """Max differences of every shared tensor; raises
    :class:`MismatchError` where one exceeds ``atol + rtol * |plain|``."""
    report, failures = {}, []
    keys = [k for k in set(plain) & set(optimised)
            if k == 'logits' or k.startswith(('loss', 'param:'))]
    for key in sorted(keys):
        a = torch.as_tensor(plain[key]).detach().double()
        b = torch.as_tensor(optimised[key]).detach().double()
        atol = (ATOL_COS * logit_scale if key == 'logits' else
                ATOL_PARAM if key.startswith('param:') else ATOL_LOSS)
        if a.shape != b.shape:
            failures.append(f'{key}: shapes {tuple(a.shape)} and '
                            f'{tuple(b.shape)}')
            continue
        diff = (a - b).abs()
        ok = bool((diff <= atol + rtol * a.abs()).all())
        report[key] = dict(max_abs_diff=float(diff.max()), atol=atol,
                           rtol=rtol, ok=ok)
        if not ok:
            failures.append(f'{key}: max |diff| {float(diff.max()):.3g} '
                            f'(atol {atol:.3g}, rtol {rtol:.3g})')
    if failures:
        raise MismatchError('plain and optimised paths differ: ' +
                            '; '.join(failures))
    return report


def one_step_result(model, optim_wrapper, batch: dict,
                    truncate: bool) -> Tuple[dict, Dict[str, int]]:
    """Losses, logits and updated parameters of one step, and its FLOPs
    per stage."""
    counter = StageFlops()
    with text_truncation(model, truncate):
        out = staged_step(model, optim_wrapper, batch, counter,
                          keep_logits=True)
    for name, param in model.named_parameters():
        if param.requires_grad:
            out[f'param:{name}'] = param.detach().cpu().clone()
    return out, counter.flops


def check_exactness(
        model, optim_wrapper, batches: Dict[str, dict]
) -> Tuple[Dict[str, dict], Dict[str, Dict[str, int]]]:
    """One step from the same state on each path (and through
    ``model.train_step``); compare logits, losses and updated prompts.
    Also returns the FLOPs per stage of each path's step."""
    state = trainable_state(model, optim_wrapper)
    results, flops = {}, {}
    for path, truncate in zip(PATHS, (False, True)):
        restore_state(model, optim_wrapper, state)
        results[path], flops[path] = one_step_result(
            model, optim_wrapper, batches[path], truncate)
    restore_state(model, optim_wrapper, state)
    with text_truncation(model, True):
        log_vars = model.train_step(batches['optimised'], optim_wrapper)
    framework = {k: v for k, v in log_vars.items()}
    for name, param in model.named_parameters():
        if param.requires_grad:
            framework[f'param:{name}'] = param.detach().cpu().clone()
    restore_state(model, optim_wrapper, state)
    scale = float(model.backbone.logit_scale)
    report = dict(plain_vs_optimised=compare_results(
        results['plain'], results['optimised'], scale))
    # the staged step is model.train_step, split: same ops, tight tolerance
    report['staged_vs_train_step'] = compare_results(
        results['optimised'], framework, scale, rtol=1e-6)
    return report, flops


def packed_token_fraction(model) -> float:
    """Prompt tokens up to each prompt's own end-of-text over the tokens the
    truncated text tower runs (all prompts up to the longest one)."""
    eot = model.backbone.prompt_learner.eot
    return float((eot + 1).sum()) / (len(eot) * (int(eot.max()) + 1))


# ---------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------
def warm_up_path(model, optim_wrapper, batch: dict, truncate: bool,
                 steps: int, device: torch.device) -> dict:
    kind = reset_peak_memory(device)
    baseline = current_rss_mib() if device.type == 'cpu' else \
        torch.cuda.memory_allocated(device) / 2**20
    with text_truncation(model, truncate):
        for _ in range(max(steps, 1)):
            staged_step(model, optim_wrapper, batch, StageTimer(device))
    return dict(peak_memory_mib=peak_memory_mib(device),
                memory_before_mib=baseline, memory_kind=kind)


def current_rss_mib() -> float:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float('nan')


def time_paths(model, optim_wrapper, batches: Dict[str, dict], iters: int,
               device: torch.device) -> Dict[str, List[Dict[str, float]]]:
    """Timed steps, alternating the paths so both see the same load."""
    samples: Dict[str, List[Dict[str, float]]] = {p: [] for p in PATHS}
    for _ in range(iters):
        for path, truncate in zip(PATHS, (False, True)):
            timer = StageTimer(device)
            with text_truncation(model, truncate), timer('total'):
                staged_step(model, optim_wrapper, batches[path], timer)
            samples[path].append(dict(timer.ms))
        log('step: ' + ', '.join(f'{p} {samples[p][-1]["total"]:.0f} ms'
                                 for p in PATHS))
    return samples


def summarise(samples: List[Dict[str, float]], batch_size: int) -> dict:
    keys = list(STAGES) + ['total']
    med = {f'{k}_ms': statistics.median(s[k] for s in samples)
           for k in keys}
    med['total_ms_all'] = [round(s['total'], 3) for s in samples]
    med['total_ms_min'] = min(s['total'] for s in samples)
    med['images_per_s'] = batch_size / med['total_ms'] * 1e3
    return med


def time_caption_encoding(model, batch: dict, truncate: bool) -> float:
    """ms per caption of a first (cache-missing) caption encoding."""
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


def measure_eval(model, feature_dim: int, num_images: int, batch_size: int,
                 num_classes: int, device: torch.device) -> dict:
    """Seconds to run ``val_step`` over ``num_images`` cached features
    (under ``torch.no_grad``, as mmengine's ``ValLoop`` runs it)."""
    generator = torch.Generator().manual_seed(1)
    feats = torch.randn(num_images, feature_dim, generator=generator)
    model.eval()
    runs = []  # text-tower runs (the prompts are encoded once, memoised)
    hook = model.backbone.clip.ln_final.register_forward_hook(
        lambda *_: runs.append(1))
    timer = StageTimer(device)
    with timer('eval'), torch.no_grad():
        for start in range(0, num_images, batch_size):
            chunk = feats[start:start + batch_size]
            samples = [DataSample().set_gt_label([i % num_classes])
                       for i in range(start, start + len(chunk))]
            model.val_step(dict(inputs=chunk, data_samples=samples))
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


def epoch_flops(flops: Dict[str, Dict[str, int]], batch_size: int,
                num_images: int, num_steps: int,
                packed_fraction: float) -> dict:
    """The epoch of :func:`epoch_estimate` in counted FLOPs.

    Their ratio is what the cached path can gain at equal throughput per
    FLOP: a cached step still runs the text tower over every class prompt,
    forward and backward. ``packed_ceiling`` is the ratio if, in
    addition, each prompt ran only to its own end-of-text token (cached
    cost scaled by ``packed_fraction``: an upper bound).
    """
    epoch = {
        p: num_images * flops[p]['image'] / batch_size +
        num_steps * sum(flops[p].get(k, 0) for k in STAGES[1:])
        for p in PATHS
    }
    ratio = epoch['plain'] / epoch['optimised']
    return dict(
        method='torch.utils.flop_counter.FlopCounterMode over one step '
        'per path (matrix products and attention, forward and backward)',
        step_flops=flops, uncached_epoch_tflop=epoch['plain'] / 1e12,
        cached_epoch_tflop=epoch['optimised'] / 1e12, epoch_flop_ratio=ratio,
        packed_token_fraction=packed_fraction,
        packed_ceiling=ratio / packed_fraction)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def machine_info(device: torch.device) -> dict:
    import open_clip
    info = dict(python=platform.python_version(), torch=torch.__version__,
                open_clip=open_clip.__version__, device=str(device),
                torch_threads=torch.get_num_threads(),
                cpu_count=os.cpu_count(), cpu_model=platform.processor())
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu_model'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    if hasattr(os, 'getloadavg'):  # other processes slow CPU timings
        info['load_average_1_5_15min'] = [round(x, 2)
                                          for x in os.getloadavg()]
    return info


def format_table(result: dict) -> str:
    steps = result['step']
    rows = [f'{"path":<11}' + ''.join(f'{k + " ms":>18}' for k in STAGES) +
            f'{"total ms":>12}{"img/s":>9}{"peak MiB":>10}']
    for path in PATHS:
        s = steps[path]
        rows.append(f'{path:<11}' +
                    ''.join(f'{s[k + "_ms"]:>18.1f}' for k in STAGES) +
                    f'{s["total_ms"]:>12.1f}{s["images_per_s"]:>9.2f}'
                    f'{s["peak_memory_mib"]:>10.0f}')
    meta = result['meta']
    rows.append(f'step speedup (plain / optimised): '
                f'{result["step_speedup"]:.2f}x  (batch {meta["batch_size"]}'
                f', {meta["num_classes"]} classes, text tokens '
                f'{meta["text_tokens"]["plain"]} vs '
                f'{meta["text_tokens"]["optimised"]}, median of '
                f'{meta["iters"]} steps)')
    eq = result['exactness']['plain_vs_optimised']
    rows.append('exactness: ' + ', '.join(
        f'{k} {v["max_abs_diff"]:.2g}' for k, v in eq.items()
        if not k.startswith('param:')) + ' (max |plain - optimised|, all '
        'within tolerance)')
    epoch = result.get('epoch')
    if epoch:
        rows.append(
            f'epoch ({epoch["train_images"]} images, batch '
            f'{epoch["train_batch_size"]}, {epoch["steps"]} steps; '
            f'EXTRAPOLATED): uncached {epoch["uncached_epoch_s"]:.1f} s, '
            f'cached {epoch["cached_epoch_s"]:.1f} s, '
            f'{epoch["epoch_speedup"]:.1f}x; one-off cache build '
            f'{epoch["cache_build_s"]:.1f} s; {epoch["max_epochs"]}-epoch '
            f'schedule {epoch["schedule_speedup"]:.1f}x')
        fl = epoch['flops']
        rows.append(
            f'epoch FLOPs (counted): uncached '
            f'{fl["uncached_epoch_tflop"]:.1f} T, cached '
            f'{fl["cached_epoch_tflop"]:.1f} T, ratio '
            f'{fl["epoch_flop_ratio"]:.1f}x (the ceiling of this cached path '
            f'at equal FLOP/s; {fl["packed_ceiling"]:.1f}x if each prompt '
            f'also stopped at its own end-of-text)')
    ev = result.get('eval')
    if ev:
        rows.append(f'eval of {ev["num_images"]} cached test images '
                    f'(batch {ev["batch_size"]}, measured): '
                    f'{ev["seconds"]:.2f} s')
    rows.append('targets: ' + ', '.join(
        f'{k} {"met" if v["met"] else "NOT met"} ({v["value"]:.2f})'
        for k, v in result['targets'].items()))
    return '\n'.join(rows)


def targets(result: dict) -> dict:
    out = dict(step_speedup_ge_3x=dict(value=result['step_speedup'],
                                       met=result['step_speedup'] >= 3))
    if 'epoch' in result:
        value = result['epoch']['epoch_speedup']
        out['epoch_speedup_ge_20x'] = dict(value=value, met=value >= 20)
    if 'eval' in result:
        value = result['eval']['seconds']
        out['eval_5000_cached_under_60s'] = dict(value=value, met=value < 60)
    return out


# ---------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(name)


def run(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    cfg = load_config(args)
    num_classes = args.num_classes or config_num_classes(cfg)
    freq, stats_source = resolve_stats(cfg.model, num_classes,
                                       args.train_images)
    model, optim_wrapper = build_model(cfg, num_classes, device)
    log(f'model built on {device} ({torch.get_num_threads()} threads); '
        f'class statistics: {stats_source}')
    batch = make_batch(model, args.batch_size, image_size(cfg), freq,
                       args.seed)
    start = time.perf_counter()
    feats = encode_images(model, batch['inputs'], args.cache_batch_size)
    cache_ms = (time.perf_counter() - start) * 1e3 / args.batch_size
    batches = dict(plain=batch, optimised=with_inputs(batch, feats))
    log(f'feature cache of the batch built ({cache_ms:.0f} ms per image, '
        'first pass)')
    exactness, flops = check_exactness(model, optim_wrapper, batches)
    log('exactness checked: plain == optimised == model.train_step')

    steps = {}
    for path, truncate in zip(PATHS, (False, True)):
        steps[path] = warm_up_path(model, optim_wrapper, batches[path],
                                   truncate, args.warmup, device)
        log(f'warm-up done: {path}')
    samples = time_paths(model, optim_wrapper, batches, args.iters, device)
    for path in PATHS:
        steps[path].update(summarise(samples[path], args.batch_size))
    learner = model.backbone.prompt_learner
    result = dict(
        meta=dict(
            config=args.config, command=' '.join([sys.executable] +
                                                 sys.argv),
            batch_size=args.batch_size, num_classes=num_classes,
            iters=args.iters, warmup=args.warmup,
            random_weights=args.random_weights,
            class_stats=stats_source,
            text_tokens=dict(plain=int(learner.tokens.shape[1]),
                             optimised=int(learner.eot.max()) + 1),
            machine=machine_info(device)),
        step=steps,
        step_speedup=steps['plain']['total_ms'] /
        steps['optimised']['total_ms'],
        exactness=exactness)
    if args.epoch:
        caption_ms = {
            p: time_caption_encoding(model, batch, t)
            for p, t in zip(PATHS, (False, True))
        }
        log('caption encoding timed')
        result['eval'] = measure_eval(model, feats.shape[1],
                                      args.test_images,
                                      args.eval_batch_size, num_classes,
                                      device)
        log(f'evaluation timed: {result["eval"]["seconds"]:.1f} s')
        # steady-state encoder cost per image (the first pass is cold)
        encode_ms = steps['plain']['image_ms'] / args.batch_size
        result['epoch'] = epoch_estimate(cfg, steps, args.batch_size,
                                         encode_ms, caption_ms,
                                         args.train_images, result['eval'],
                                         args.test_images)
        result['epoch']['first_cache_pass_ms_per_image'] = cache_ms
        result['epoch']['flops'] = epoch_flops(
            flops, args.batch_size, args.train_images,
            result['epoch']['steps'], packed_token_fraction(model))
    result['targets'] = targets(result)
    return result


# ---------------------------------------------------------------------------
# --end-to-end: the whole recipe through tools/train.py
# ---------------------------------------------------------------------------
def reference_config(cfg: Config) -> Config:
    """The config without mmltml's optimisations: the feature cache is
    unwrapped from every dataloader (its hook removed), so the frozen image
    encoder runs on every batch, and the text tower runs on all context
    positions. The caption cache of the CSE loss stays on."""
    cfg = copy.deepcopy(cfg)
    for name in LOADERS:
        loader = cfg.get(name)
        if loader and loader.dataset.get('type') == 'CachedFeatureDataset':
            loader.dataset = loader.dataset.dataset
    cfg.custom_hooks = [
        hook for hook in cfg.get('custom_hooks', [])
        if hook.get('type') != 'FeatureCacheHook'
    ]
    cfg.model.backbone.truncate_text = False
    return cfg


def use_fake_images(cfg: Config, root: str, size: Tuple[int, int]) -> int:
    """Point every dataset of ``cfg`` at stand-in images under ``root``
    and write the missing ones; returns how many were written."""
    from mmpretrain.registry import DATASETS

    from mmltml.utils.dataset_cfg import leaf_dataset_cfgs
    from mmltml.utils.stand_in_images import write_stand_in_jpeg
    rng = np.random.default_rng(0)
    nodes = [
        node for name in LOADERS if cfg.get(name)
        for node in leaf_dataset_cfgs(cfg.get(name).dataset)
    ]
    written, listed = 0, set()
    for node in nodes:
        node.data_prefix = dict(img_path=osp.abspath(root))
        if repr(node) in listed:  # e.g. the test loader = the val loader
            continue
        listed.add(repr(node))
        dataset = DATASETS.build(copy.deepcopy(node))
        for index in range(len(dataset)):
            path = dataset.get_data_info(index)['img_path']
            if not osp.exists(path):
                write_stand_in_jpeg(path, size, rng)
                written += 1
    return written


def last_group_metrics(work_dir: str) -> dict:
    """The last evaluation's group mAPs of the newest run in ``work_dir``
    (mmengine's ``vis_data/scalars.json``)."""
    files = sorted(glob.glob(
        osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    last = {}
    if files:
        with open(files[-1]) as f:
            records = [json.loads(line) for line in f]
        last = next((r for r in reversed(records) if GROUP_KEYS[0] in r), {})
    if not last:
        raise RuntimeError(f'no {GROUP_KEYS[0]} was logged in {work_dir}; '
                           'does the config evaluate with GroupMAP?')
    # a group without evaluable classes is not logged (GroupMAP says why)
    return {key: last[key] for key in GROUP_KEYS if key in last}


def run_recipe(cfg: Config, work_dir: str) -> dict:
    """Train ``cfg`` with tools/train.py; wall time and final metrics."""
    os.makedirs(work_dir, exist_ok=True)
    config_file = osp.join(work_dir, 'recipe_config.py')
    cfg.dump(config_file)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, TRAIN_TOOL, config_file, '--work-dir', work_dir],
        capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'tools/train.py {config_file} failed '
                           f'({proc.returncode}):\n{proc.stderr[-3000:]}')
    return dict(seconds=seconds, metrics=last_group_metrics(work_dir))


def run_end_to_end(args: argparse.Namespace) -> dict:
    cfg = load_config(args)
    if not cfg.get('train_cfg'):
        raise ValueError(f'{args.config} has no training recipe')
    if args.fake_images:
        written = use_fake_images(cfg, osp.join(args.work_dir, 'fake_images'),
                                  tuple(args.fake_image_size))
        log(f'stand-in images: {written} written')
    runs = {}
    for path, path_cfg in (('reference', reference_config(cfg)),
                           ('fast', cfg)):
        log(f'{path} path: training the whole recipe')
        runs[path] = run_recipe(path_cfg, osp.join(args.work_dir, path))
        log(f'{path} path: {runs[path]["seconds"]:.1f} s')
    ref, fast = runs['reference']['metrics'], runs['fast']['metrics']
    if ref.keys() != fast.keys():
        raise RuntimeError(f'the paths evaluated different groups: '
                           f'{sorted(ref)} vs {sorted(fast)}')
    diff = max(abs(ref[key] - fast[key]) for key in ref)
    return dict(
        meta=dict(config=args.config, random_weights=args.random_weights,
                  fake_images=args.fake_images,
                  command=' '.join([sys.executable] + sys.argv),
                  machine=machine_info(resolve_device(args.device))),
        end_to_end=runs,
        speedup=runs['reference']['seconds'] / runs['fast']['seconds'],
        max_metric_diff=diff)


def format_end_to_end(result: dict) -> str:
    lines = [f'{"path":<10} {"wall s":>9} ' +
             ' '.join(f'{key:>14}' for key in GROUP_KEYS)]
    for path, run in result['end_to_end'].items():
        lines.append(f'{path:<10} {run["seconds"]:>9.1f} ' + ' '.join(
            f'{run["metrics"][key]:>14.2f}' if key in run['metrics'] else
            f'{"-":>14}' for key in GROUP_KEYS))
    lines.append(f'end-to-end speedup (reference / fast): '
                 f'{result["speedup"]:.2f}x; largest metric difference '
                 f'{result["max_metric_diff"]:.4f} mAP points')
    return '\n'.join(lines)


def write_result(result: dict, out: Optional[str]) -> int:
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'results written to {out}')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.end_to_end:
        result = run_end_to_end(args)
        print(format_end_to_end(result))
        return write_result(result, args.out)
    try:
        result = run(args)
    except MismatchError as error:
        print(f'FAILED: {error}', file=sys.stderr)
        return 1
    print(format_table(result))
    return write_result(result, args.out)


if __name__ == '__main__':
    sys.exit(main())
