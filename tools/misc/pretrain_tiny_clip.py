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
:func:`~mmltml.evaluation.metrics.group_map.classwise_average_precision`)
for all classes and the head / medium / tail groups of the benchmark's
training counts, next to chance (the mean positive rate), and saves an fp16
state dict plus a JSON record beside it.

Example::

    python tools/misc/pretrain_tiny_clip.py --bench data/synthetic
"""
import argparse
import json
import math
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from mmltml.benchmarks.synthetic import (BACKGROUNDS, class_names,
                                         image_rng, join_objects,
                                         make_caption, render_image,
                                         sample_label_sets)
from mmltml.datasets.class_stats import split_groups
from mmltml.evaluation.metrics.group_map import classwise_average_precision
from mmltml.models.utils.clip_loader import build_tokenizer
from mmltml.models.utils.tiny_clip import (TINY_CLIP_CFG,
                                           TINY_CLIP_CHECKPOINT,
                                           TINY_CLIP_MEAN, TINY_CLIP_STD)

PRETRAIN_SPLIT = 2  # split code of the renderer's per-image seeds
TEMPLATE = 'a photo of a {}.'
MENTIONS = ('there is {}', 'this picture contains {}', 'i can see {}',
            '{} in the picture')
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


@dataclass
class PairPool:
    """Rendered pre-training images with what their captions may say."""
    images: torch.Tensor  # N x 3 x H x W, uint8
    labels: torch.Tensor  # N x C multi-hot
    backgrounds: torch.Tensor  # N, index into BACKGROUNDS
    objects: List[List[str]]  # class names in drawing order


def render_pairs(num_images: int, seed: int, image_size: int) -> PairPool:
    """Render ``num_images`` images of balanced, random class sets."""
    names = class_names()
    per_class = math.ceil(num_images * 2.2 / len(names))
    label_sets = sample_label_sets([per_class] * len(names),
                                   np.random.default_rng([seed, 3]))
    label_sets = label_sets[:num_images]
    images = np.empty((len(label_sets), image_size, image_size, 3), np.uint8)
    labels = torch.zeros(len(label_sets), len(names))
    backgrounds, objects = [], []
    for i, label_set in enumerate(label_sets):
        images[i], _, desc = render_image(
            label_set, image_rng(seed, PRETRAIN_SPLIT, i), image_size)
        labels[i, label_set] = 1
        backgrounds.append(BACKGROUNDS.index(desc['background']))
        objects.append(desc['objects'])
    return PairPool(
        torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), labels,
        torch.tensor(backgrounds), objects)


class CaptionSampler:
    """Draw a caption of a pool image and the facts it states.

    Two caption styles, as in web data:

    * a *scene* caption names every object (random order) and, with
      probability ``background_prob``, the background, in the benchmark's
      caption style: ``'a photo of a red circle and a blue star.'``. It is
      true only of images with exactly these objects.
    * with probability ``mention_prob`` a *mention* names a random non-empty
      subset of the objects in another phrasing (:data:`MENTIONS`), e.g.
      ``'there is a red circle.'``; it is true of every image that contains
      them.

    The zero-shot template ``'a photo of a {}.'`` is in the scene style, so it
    describes single-object images best; learned prompts can close that gap.
    """

    def __init__(self, pool: PairPool, mention_prob: float,
                 background_prob: float, seed: int) -> None:
        self.pool = pool
        self.mention_prob = mention_prob
        self.background_prob = background_prob
        self.rng = np.random.default_rng([seed, 4])
        self.class_index = {name: i for i, name in enumerate(class_names())}

    def __call__(self, index: int) -> Tuple[str, List[int], int, bool]:
        """Return ``(caption, named class ids, background id or -1,
        whether the caption names all objects)``."""
        objects = list(self.pool.objects[index])
        self.rng.shuffle(objects)
        named = objects
        background = -1
        if self.rng.random() < self.mention_prob:
            named = objects[:self.rng.integers(1, len(objects) + 1)]
            template = MENTIONS[self.rng.integers(len(MENTIONS))]
            caption = template.format(join_objects(named))
        else:
            if self.rng.random() < self.background_prob:
                background = int(self.pool.backgrounds[index])
            caption = make_caption(
                objects, BACKGROUNDS[background] if background >= 0 else None)
        ids = [self.class_index[o] for o in named]
        return caption + '.', ids, background, named is objects


def positives(pool: PairPool, index: torch.Tensor, named: torch.Tensor,
              background: torch.Tensor, complete: torch.Tensor
              ) -> torch.Tensor:
    """``B x B`` mask: caption j is true of image i."""
    labels = pool.labels[index]
    extra = (named[None] * (1 - labels[:, None])).sum(-1)  # named, absent
    missing = (labels[:, None] * (1 - named[None])).sum(-1)  # unnamed
    same_bg = (background[None] < 0) | (
        background[None] == pool.backgrounds[index][:, None])
    return (extra == 0) & same_bg & ((missing == 0) | ~complete[None])


def contrastive_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with several positives per row (mean target)."""
    target = mask.float()
    image_loss = -(F.log_softmax(logits, 1) * target).sum(1) / target.sum(1)
    text_loss = -(F.log_softmax(logits.t(), 1) * target.t()).sum(1) / \
        target.t().sum(1)
    return (image_loss.mean() + text_loss.mean()) / 2


def augment(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A random flip and 90-degree rotation of a uint8 batch, normalised."""
    x = images.float()
    if rng.random() < 0.5:
        x = x.flip(3)
    x = torch.rot90(x, int(rng.integers(4)), (2, 3))
    return normalise(x)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(TINY_CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TINY_CLIP_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def build_optimizer(model: nn.Module, args: argparse.Namespace):
    """AdamW (no decay on norms, biases, embeddings, logit scale), warmup
    then cosine decay per step."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        plain = param.ndim < 2 or 'embedding' in name
        (no_decay if plain else decay).append(param)
    optimizer = torch.optim.AdamW([
        dict(params=decay, weight_decay=args.weight_decay),
        dict(params=no_decay, weight_decay=0.)
    ], lr=args.lr, betas=(0.9, 0.98), eps=1e-6)

    def factor(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return 0.5 * (1 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Tokens:
    """Tokenizer with a cache (the caption vocabulary is small)."""

    def __init__(self) -> None:
        self.tokenizer = build_tokenizer(model_cfg=TINY_CLIP_CFG)
        self.cache: Dict[str, torch.Tensor] = {}

    def __call__(self, texts: List[str]) -> torch.Tensor:
        for text in texts:
            if text not in self.cache:
                self.cache[text] = self.tokenizer([text])[0]
        return torch.stack([self.cache[text] for text in texts])


def train(model: nn.Module, pool: PairPool, args: argparse.Namespace,
          bench: 'Benchmark') -> List[dict]:
    """Run ``args.steps`` contrastive steps; return the progress log."""
    sampler = CaptionSampler(pool, args.mention_prob, args.background_prob,
                             args.seed)
    tokens, rng = Tokens(), np.random.default_rng([args.seed, 5])
    generator = torch.Generator().manual_seed(args.seed)
    optimizer, scheduler = build_optimizer(model, args)
    model.train()
    history, start, step = [], time.time(), 0
    while step < args.steps:
        order = torch.randperm(len(pool.labels), generator=generator)
        for begin in range(0, len(order) - args.batch_size + 1,
                           args.batch_size):
            index = order[begin:begin + args.batch_size]
            captions, named, background, complete = zip(
                *(sampler(i) for i in index.tolist()))
            named_hot = torch.zeros(len(index), pool.labels.shape[1])
            for row, ids in enumerate(named):
                named_hot[row, ids] = 1
            mask = positives(pool, index, named_hot, torch.tensor(background),
                             torch.tensor(complete))
            image, text, scale = model(
                augment(pool.images[index], rng), tokens(list(captions)))
            loss = contrastive_loss(scale * image @ text.t(), mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            step += 1
            if step % args.log_interval == 0 or step == args.steps:
                history.append(log_progress(model, bench, step, loss, start))
            if step == args.steps:
                break
    return history


def log_progress(model: nn.Module, bench: 'Benchmark', step: int,
                 loss: torch.Tensor, start: float) -> dict:
    """Print and return the loss and the zero-shot test mAP at ``step``."""
    result = dict(step=step, loss=round(loss.item(), 4),
                  time_s=round(time.time() - start, 1),
                  **bench.zero_shot(model))
    print(' '.join(f'{k} {v}' for k, v in result.items()), flush=True)
    return result


class Benchmark:
    """The benchmark's test split and training-count groups, for zero-shot
    evaluation."""

    def __init__(self, root: str) -> None:
        with open(osp.join(root, 'meta.json')) as f:
            meta = json.load(f)
        counts = meta['train_class_counts']
        self.groups = split_groups(counts)
        with open(osp.join(root, 'test.txt')) as f:
            lines = [line.split() for line in f.read().splitlines()]
        self.labels = np.zeros((len(lines), len(counts)))
        for row, parts in enumerate(lines):
            self.labels[row, [int(i) for i in parts[1:]]] = 1
        self.images = torch.from_numpy(
            np.stack([
                np.asarray(Image.open(osp.join(root, parts[0])).convert('RGB'))
                for parts in lines
            ])).permute(0, 3, 1, 2)
        self.tokenizer = build_tokenizer(model_cfg=TINY_CLIP_CFG)

    @property
    def chance(self) -> float:
        """mAP of random scores: the mean positive rate over classes."""
        return float(self.labels.mean())

    @torch.no_grad()
    def zero_shot(self, model: nn.Module,
                  template: str = TEMPLATE) -> Dict[str, float]:
        """Zero-shot mAP (total and per group) of cosine scores."""
        was_training = model.training
        model.eval()
        prompts = self.tokenizer(
            [template.format(name) for name in class_names()])
        text = model.encode_text(prompts, normalize=True)
        image = torch.cat([
            model.encode_image(normalise(chunk.float()), normalize=True)
            for chunk in self.images.split(512)
        ])
        model.train(was_training)
        scores = (image @ text.t()).numpy()
        ap = classwise_average_precision(scores, self.labels)
        result = dict(mAP=ap.mean())
        result.update({g: ap[idx].mean() for g, idx in self.groups.items()})
        return {k: round(float(v), 4) for k, v in result.items()}


def save(model: nn.Module, path: str, record: dict) -> None:
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
    bench = Benchmark(args.bench)
    size = TINY_CLIP_CFG['vision_cfg']['image_size']
    pool = render_pairs(args.num_images, args.seed, size)
    print(f'rendered {len(pool.labels)} pairs in {time.time() - start:.0f} s')
    import open_clip
    model = open_clip.CLIP(**TINY_CLIP_CFG).to(
        memory_format=torch.channels_last)
    history = train(model, pool, args, bench)
    elapsed = time.time() - start
    results = {t: bench.zero_shot(model, t) for t in (TEMPLATE, MENTION)}
    for template, result in results.items():
        print(f'zero-shot {template!r}: ' +
              ' '.join(f'{k} {v:.4f}' for k, v in result.items()))
    print(f'chance (mean positive rate) {bench.chance:.4f}; '
          f'pre-training took {elapsed:.0f} s')
    recipe = dict(vars(args), out=osp.relpath(args.out))
    save(model.float(), args.out,
         dict(recipe=recipe, model_cfg=TINY_CLIP_CFG,
              time_s=round(elapsed, 1), zero_shot=results[TEMPLATE],
              zero_shot_mention=results[MENTION],
              chance=round(bench.chance, 4), history=history))
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
