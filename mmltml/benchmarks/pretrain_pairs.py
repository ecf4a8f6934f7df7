# Copyright (c) mmltml contributors. All rights reserved.
"""Image-caption pairs for pre-training the tiny CLIP
(``tools/misc/pretrain_tiny_clip.py``): images rendered with the synthetic
benchmark's renderer on their own seeds, captions in two styles, the
mask of which caption is true of which image, and augmented batches."""
import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Tuple

import numpy as np
import torch

from mmltml.models.utils.clip_loader import build_tokenizer
from mmltml.models.utils.tiny_clip import (TINY_CLIP_CFG, TINY_CLIP_MEAN,
                                           TINY_CLIP_STD)
from .synthetic import (BACKGROUNDS, class_names, image_rng, join_objects,
                        make_caption, render_image, sample_label_sets)

PRETRAIN_SPLIT = 2  # split code of the renderer's per-image seeds
MENTIONS = ('there is {}', 'this picture contains {}', 'i can see {}',
            '{} in the picture')


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
    """``B x B`` mask: caption j is true of image i (it names no absent
    object, no other background, and, if it claims to name all objects,
    misses none)."""
    labels = pool.labels[index]
    extra = (named[None] * (1 - labels[:, None])).sum(-1)  # named, absent
    missing = (labels[:, None] * (1 - named[None])).sum(-1)  # unnamed
    same_bg = (background[None] < 0) | (
        background[None] == pool.backgrounds[index][:, None])
    return (extra == 0) & same_bg & ((missing == 0) | ~complete[None])


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Tiny-CLIP input of 0-255 images (channels-last float)."""
    mean = torch.tensor(TINY_CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TINY_CLIP_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def augment(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A random flip and 90-degree rotation of a uint8 batch, normalised
    (labels and captions are invariant to both)."""
    x = images.float()
    if rng.random() < 0.5:
        x = x.flip(3)
    x = torch.rot90(x, int(rng.integers(4)), (2, 3))
    return normalise(x)


class Tokens:
    """The tiny CLIP's tokenizer with a cache (the caption vocabulary is
    small)."""

    def __init__(self) -> None:
        self.tokenizer = build_tokenizer(model_cfg=TINY_CLIP_CFG)
        self.cache: Dict[str, torch.Tensor] = {}

    def __call__(self, texts: List[str]) -> torch.Tensor:
        for text in texts:
            if text not in self.cache:
                self.cache[text] = self.tokenizer([text])[0]
        return torch.stack([self.cache[text] for text in texts])


def pair_batches(pool: PairPool, batch_size: int, mention_prob: float,
                 background_prob: float, seed: int) -> Iterator[dict]:
    """Endless training batches ``dict(images, tokens, positives)``:
    shuffled epochs of whole batches (a remainder is dropped), a caption
    drawn per image, the batch augmented."""
    sampler = CaptionSampler(pool, mention_prob, background_prob, seed)
    tokens, rng = Tokens(), np.random.default_rng([seed, 5])
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(pool.labels), generator=generator)
        for begin in range(0, len(order) - batch_size + 1, batch_size):
            index = order[begin:begin + batch_size]
            captions, named, background, complete = zip(
                *(sampler(i) for i in index.tolist()))
            named_hot = torch.zeros(len(index), pool.labels.shape[1])
            for row, ids in enumerate(named):
                named_hot[row, ids] = 1
            mask = positives(pool, index, named_hot, torch.tensor(background),
                             torch.tensor(complete))
            yield dict(images=augment(pool.images[index], rng),
                       tokens=tokens(list(captions)), positives=mask)
