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

Each step is the model's own ``train_step``, metered per stage: image
encoding (data preprocessing + encoder), text encoding (class prompts,
forward), loss (classification + CSE, with the caption embeddings) and
backward + optimizer step (the config's optimizer). Before timing, the
tool checks that both paths give the same logits, losses and updated
prompts (within stated float tolerances) and that metering the stages
leaves ``model.train_step`` unchanged; a mismatch exits with status 1.

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

A config that fine-tunes the whole CLIP (``CLIPFineTuneHead``, LM-CLIP)
has one path only (its image tower trains: no feature cache; its text
tower trains: the prompts are re-encoded every step): the tool times its
``train_step`` per stage (:mod:`mmltml.benchmarks.fine_tune_step`) and,
with ``--epoch``, extrapolates an epoch and an evaluation of the test
images (each evaluation encodes every image again).

``--whole-step`` times the whole ``model.train_step`` of any config
instead (fine-tuning configs such as HP-DVAL's, which train their image
tower: no cache, no stages), on a synthetic batch at full size with random
weights (:mod:`mmltml.benchmarks.whole_step`).

The parts live in :mod:`mmltml.benchmarks` (one module per job); this
file parses the options and prints the results.

Example::

    python tools/analysis_tools/benchmark_train.py \\
        configs/lmpt/lmpt_vitb16_coco-lt.py --random-weights \\
        --batch-size 32 --iters 5 --warmup 1 --epoch \\
        --out work_dirs/benchmark_train.json
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Optional, Sequence

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)
import torch
from mmengine.config import Config, DictAction

from mmltml.benchmarks import (end_to_end, epoch, feature_cache,
                               fine_tune_step, flops, whole_step)
from mmltml.benchmarks.exactness import MismatchError, check_exactness
from mmltml.benchmarks.machine import machine_info
from mmltml.benchmarks.memory import step_peak_memory
from mmltml.benchmarks.setup import (build_model, config_num_classes,
                                     load_config, resolve_device,
                                     resolve_stats)
from mmltml.benchmarks.step_timing import (PATHS, STAGES, TRUNCATE,
                                           summarise, time_paths)
from mmltml.benchmarks.train_batch import image_size, make_batch

TRAIN_TOOL = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'train.py')


def log(message: str) -> None:
    """Progress on stderr (CPU runs take minutes)."""
    print(f'[benchmark_train {time.strftime("%H:%M:%S")}] {message}',
          file=sys.stderr, flush=True)


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
    parser.add_argument(
        '--whole-step',
        action='store_true',
        help='time the whole model.train_step of any config (random '
        'weights, full size; --batch-size, --iters, --warmup)')
    parser.add_argument(
        '--image-size', type=int,
        help='--whole-step: image side (default: the first Resize of the '
        "config's training pipeline, else 224)")
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """The step benchmark (and ``--epoch``); raises
    :class:`MismatchError` if the exactness check fails."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    cfg = load_config(args.config, args.cfg_options, args.random_weights)
    num_classes = args.num_classes or config_num_classes(cfg)
    freq, stats_source = resolve_stats(cfg.model, num_classes,
                                       args.train_images)
    model, optim_wrapper = build_model(cfg, num_classes, device)
    log(f'model built on {device} ({torch.get_num_threads()} threads); '
        f'class statistics: {stats_source}')
    batch = make_batch(model.backbone.classnames, args.batch_size,
                       image_size(cfg), freq, args.seed)
    start = time.perf_counter()
    cached = feature_cache.cached_batch(model, batch, args.cache_batch_size)
    cache_ms = (time.perf_counter() - start) * 1e3 / args.batch_size
    batches = dict(plain=batch, optimised=cached)
    log(f'feature cache of the batch built ({cache_ms:.0f} ms per image, '
        'first pass)')
    exactness, step_flops = check_exactness(model, optim_wrapper, batches)
    log('exactness checked: plain == optimised == model.train_step')

    steps = {}
    for path in PATHS:
        steps[path] = step_peak_memory(model, optim_wrapper, batches[path],
                                       TRUNCATE[path], args.warmup, device)
        log(f'warm-up done: {path}')
    samples = time_paths(model, optim_wrapper, batches, args.iters, device,
                         log)
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
        result.update(run_epoch(args, cfg, model, batches, steps, step_flops,
                                cache_ms, num_classes, device))
    return result


def run_fine_tune(args: argparse.Namespace) -> dict:
    """The step benchmark of a fully fine-tuned CLIP config (one path)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    cfg = fine_tune_step.load_config(args.config, args.cfg_options,
                                     args.random_weights)
    names = fine_tune_step.class_names(cfg)
    freq, stats_source = resolve_stats(cfg.model, len(names),
                                       args.train_images)
    model, optim_wrapper = fine_tune_step.build_model(cfg, device)
    log(f'model built on {device} ({torch.get_num_threads()} threads); '
        f'class statistics: {stats_source}')
    batch = make_batch(names, args.batch_size, image_size(cfg), freq,
                       args.seed)
    step = fine_tune_step.timed_steps(model, optim_wrapper, batch,
                                      args.iters, args.warmup, device, log)
    result = dict(
        meta=dict(
            config=args.config, command=' '.join([sys.executable] +
                                                 sys.argv),
            batch_size=args.batch_size, num_classes=len(names),
            iters=args.iters, warmup=args.warmup,
            random_weights=args.random_weights, class_stats=stats_source,
            parameters=sum(p.numel() for p in model.parameters()),
            trainable=sum(p.numel() for p in model.parameters()
                          if p.requires_grad),
            machine=machine_info(device)),
        fine_tune_step=step)
    if args.epoch:
        eval_ms = fine_tune_step.eval_ms_per_image(model, batch, device)
        log(f'evaluation timed: {eval_ms:.0f} ms per image')
        result['epoch'] = fine_tune_step.epoch_estimate(
            cfg, step, args.batch_size, eval_ms, args.train_images,
            args.test_images)
    return result


def format_fine_tune(result: dict) -> str:
    step, meta = result['fine_tune_step'], result['meta']
    stages = fine_tune_step.STAGES
    rows = [''.join(f'{k + " ms":>18}' for k in stages) +
            f'{"total ms":>12}{"img/s":>9}{"peak MiB":>10}',
            ''.join(f'{step[k + "_ms"]:>18.1f}' for k in stages) +
            f'{step["total_ms"]:>12.1f}{step["images_per_s"]:>9.2f}'
            f'{step["peak_memory_mib"]:>10.0f}',
            f'fine-tuning step (batch {meta["batch_size"]}, '
            f'{meta["num_classes"]} classes, {meta["trainable"]:,} trainable '
            f'of {meta["parameters"]:,} parameters, median of '
            f'{meta["iters"]} steps); no cached path: the image tower '
            'trains']
    est = result.get('epoch')
    if est:
        rows.append(
            f'epoch ({est["train_images"]} images, {est["steps"]} steps of '
            f'{est["batch_size"]} (config: {est["config_batch_size"]}); '
            f'EXTRAPOLATED): {est["epoch_s"]:.0f} s; evaluation of '
            f'{est["test_images"]} test images ({est["eval_ms_per_image"]:.0f}'
            f' ms per image, measured on the batch): {est["eval_s"]:.0f} s; '
            f'{est["max_epochs"]} epochs + {est["evaluations"]} evaluations:'
            f' {est["schedule_h"]:.1f} h')
    return '\n'.join(rows)


def run_epoch(args: argparse.Namespace, cfg, model, batches: dict,
              steps: dict, step_flops: dict, cache_ms: float,
              num_classes: int, device: torch.device) -> dict:
    """``--epoch``: the cached evaluation and the epoch estimate."""
    caption_ms = epoch.caption_encoding_ms(model, batches['plain'])
    log('caption encoding timed')
    eval_result = epoch.measure_eval(
        model, feature_cache.feature_dim(batches['optimised']),
        args.test_images, args.eval_batch_size, num_classes, device)
    log(f'evaluation timed: {eval_result["seconds"]:.1f} s')
    # steady-state encoder cost per image (the first pass is cold)
    encode_ms = steps['plain']['image_ms'] / args.batch_size
    estimate = epoch.epoch_estimate(cfg, steps, args.batch_size, encode_ms,
                                    caption_ms, args.train_images,
                                    eval_result, args.test_images)
    estimate['first_cache_pass_ms_per_image'] = cache_ms
    estimate['flops'] = flops.epoch_flops(
        step_flops, args.batch_size, args.train_images, estimate['steps'],
        flops.packed_token_fraction(model))
    return dict(eval=eval_result, epoch=estimate)


def run_end_to_end(args: argparse.Namespace) -> dict:
    """``--end-to-end``: the whole recipe, reference vs fast path."""
    cfg = load_config(args.config, args.cfg_options, args.random_weights)
    if not cfg.get('train_cfg'):
        raise ValueError(f'{args.config} has no training recipe')
    if args.fake_images:
        written = end_to_end.use_fake_images(
            cfg, osp.join(args.work_dir, 'fake_images'),
            tuple(args.fake_image_size))
        log(f'stand-in images: {written} written')
    meta = dict(config=args.config, random_weights=args.random_weights,
                fake_images=args.fake_images,
                command=' '.join([sys.executable] + sys.argv),
                machine=machine_info(resolve_device(args.device)))
    return dict(meta=meta, **end_to_end.compare_recipes(
        cfg, args.work_dir, TRAIN_TOOL, log))


def run_whole_step(args: argparse.Namespace) -> dict:
    """``--whole-step``: the median whole training step."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    built = whole_step.build_whole_step(
        args.config, args.cfg_options, args.batch_size, args.train_images,
        args.seed, device, args.image_size)
    log(f'model built on {device} ({torch.get_num_threads()} threads); '
        f'class statistics: {built["class_stats"]}')
    timing = whole_step.time_whole_steps(
        built['model'], built['optim_wrapper'], built['batch'], args.iters,
        args.warmup, device, log)
    meta = dict(config=args.config, batch_size=args.batch_size,
                num_classes=built['num_classes'], iters=args.iters,
                warmup=args.warmup, random_weights=True,
                command=' '.join([sys.executable] + sys.argv),
                machine=machine_info(device))
    return dict(meta=meta, whole_step=timing)


def format_whole_step(result: dict) -> str:
    meta, step = result['meta'], result['whole_step']
    load = meta['machine'].get('load_average_1_5_15min')
    return (f'{meta["config"]}: whole train_step {step["step_s"]:.2f} s '
            f'(median of {meta["iters"]}; batch {meta["batch_size"]}, '
            f'{meta["batch_size"] / step["step_s"]:.2f} img/s), '
            f'{step["trainable_params"] / 1e6:.1f} M trainable parameters, '
            f'peak {step["peak_memory_mib"]:.0f} MiB '
            f'({step["memory_kind"]}); {meta["machine"]["device"]}, '
            f'{meta["machine"]["torch_threads"]} threads, load {load}')


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
    return '\n'.join(rows)


def format_end_to_end(result: dict) -> str:
    lines = [f'{"path":<10} {"wall s":>9} ' +
             ' '.join(f'{key:>14}' for key in end_to_end.GROUP_KEYS)]
    for path, run in result['end_to_end'].items():
        lines.append(f'{path:<10} {run["seconds"]:>9.1f} ' + ' '.join(
            f'{run["metrics"][key]:>14.2f}' if key in run['metrics'] else
            f'{"-":>14}' for key in end_to_end.GROUP_KEYS))
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
    if args.whole_step:
        result = run_whole_step(args)
        print(format_whole_step(result))
        return write_result(result, args.out)
    if args.end_to_end:
        result = run_end_to_end(args)
        print(format_end_to_end(result))
        return write_result(result, args.out)
    if fine_tune_step.is_fine_tune_config(Config.fromfile(args.config)):
        result = run_fine_tune(args)
        print(format_fine_tune(result))
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
