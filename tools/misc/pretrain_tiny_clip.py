# Copyright (c) mmltml contributors. All rights reserved.
"""Pre-train the tiny CLIP of the synthetic benchmark on two CPU cores.

Image-caption pairs are drawn with the benchmark's renderer on a different
seed than the benchmark (balanced classes, kept in memory). The model
(:data:`TINY_CLIP_CFG`) is trained from scratch with the CLIP InfoNCE loss,
where a caption that also describes another image of the batch (same objects
or a subset of them, same background if named) counts as a positive of that
image rather than as a negative. Images are augmented with flips and
90-degree rotations (labels and captions are invariant to both).

At the end the script reports zero-shot mAP on the benchmark's test split
(template ``'a photo of a {}.'``, cosine scores, per-class AP of
:func:`~mmltml.evaluation.classwise_average_precision`)
for all classes and the head / medium / tail groups of the benchmark's
training counts, next to chance (the mean positive rate), and saves an fp16
state dict plus a JSON record beside it.

The parts live in :mod:`mmltml.benchmarks` (``pretrain_pairs``: the pairs;
``contrastive``: the loss and the mmengine model, whose ``train_step`` runs
through an ``OptimWrapper``; ``zero_shot``: the evaluation).

Example::

    python tools/misc/pretrain_tiny_clip.py --bench data/synthetic
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import List

import torch

from mmltml.benchmarks.contrastive import (ContrastiveCLIP,
                                           build_optim_wrapper, pretrain)
from mmltml.benchmarks.pretrain_pairs import (PairPool, pair_batches,
                                              render_pairs)
from mmltml.benchmarks.zero_shot import TEMPLATE, ZeroShotBenchmark
from mmltml.models.utils.tiny_clip import TINY_CLIP_CFG, TINY_CLIP_CHECKPOINT

MENTION = 'there is a {}.'  # a mention-style prompt, reported for reference


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--bench', default='data/synthetic',
                        help='benchmark root (generated if missing)')
    parser.add_argument('--bench-seed', type=int, default=0)
    parser.add_argument('--out', default=TINY_CLIP_CHECKPOINT)
    parser.add_argument('--seed', type=int, default=1,
                        help='seed of the pre-training pairs and the model '
                        '(must differ from --bench-seed)')
    parser.add_argument('--num-images', type=int, default=12000)
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--weight-decay', type=float, default=0.1)
    parser.add_argument('--warmup', type=int, default=20)
    parser.add_argument('--mention-prob', type=float, default=0.5,
                        help='chance of a mention caption (some objects, '
                        'other phrasing) instead of a scene caption')
    parser.add_argument('--background-prob', type=float, default=0.5,
                        help='chance that a scene caption names the '
                        'background')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--log-interval', type=int, default=50)
    return parser.parse_args()


def train(model: ContrastiveCLIP, pool: PairPool, args: argparse.Namespace,
          bench: ZeroShotBenchmark) -> List[dict]:
    """Run ``args.steps`` contrastive steps; return the progress log (loss
    and zero-shot test mAP every ``args.log_interval`` steps and at the
    end)."""
    optim_wrapper, scheduler = build_optim_wrapper(
        model.clip, args.steps, args.lr, args.weight_decay, args.warmup)
    batches = pair_batches(pool, args.batch_size, args.mention_prob,
                           args.background_prob, args.seed)
    history, start = [], time.time()

    def after_step(step: int, log_vars: dict) -> None:
        if step % args.log_interval == 0 or step == args.steps:
            loss = float(log_vars['loss'].detach())
            result = dict(step=step, loss=round(loss, 4),
                          time_s=round(time.time() - start, 1),
                          **bench.zero_shot(model.clip))
            print(' '.join(f'{k} {v}' for k, v in result.items()),
                  flush=True)
            history.append(result)

    pretrain(model, optim_wrapper, scheduler, batches, args.steps,
             after_step)
    return history


def save(model: torch.nn.Module, path: str, record: dict) -> None:
    """fp16 plain-tensor state dict and ``<path stem>.json``."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    state = {k: v.detach().half().contiguous()
             for k, v in model.state_dict().items()}
    torch.save(state, path)
    record['size_mb'] = round(osp.getsize(path) / 2**20, 2)
    with open(osp.splitext(path)[0] + '.json', 'w') as f:
        json.dump(record, f, indent=1)


def main() -> None:
    from mmltml.benchmarks.synthetic import generate_synthetic_lt
    args = parse_args()
    if args.seed == args.bench_seed:
        raise ValueError('pre-training must not use the benchmark seed')
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.time()
    generate_synthetic_lt(args.bench, seed=args.bench_seed)
    bench = ZeroShotBenchmark(args.bench)
    size = TINY_CLIP_CFG['vision_cfg']['image_size']
    pool = render_pairs(args.num_images, args.seed, size)
    print(f'rendered {len(pool.labels)} pairs in {time.time() - start:.0f} s')
    import open_clip
    clip = open_clip.CLIP(**TINY_CLIP_CFG).to(
        memory_format=torch.channels_last)
    history = train(ContrastiveCLIP(clip), pool, args, bench)
    elapsed = time.time() - start
    results = {t: bench.zero_shot(clip, t) for t in (TEMPLATE, MENTION)}
    for template, result in results.items():
        print(f'zero-shot {template!r}: ' +
              ' '.join(f'{k} {v:.4f}' for k, v in result.items()))
    print(f'chance (mean positive rate) {bench.chance:.4f}; '
          f'pre-training took {elapsed:.0f} s')
    recipe = dict(vars(args), out=osp.relpath(args.out))
    save(clip.float(), args.out,
         dict(recipe=recipe, model_cfg=TINY_CLIP_CFG,
              time_s=round(elapsed, 1), zero_shot=results[TEMPLATE],
              zero_shot_mention=results[MENTION],
              chance=round(bench.chance, 4), history=history))
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
