# Copyright (c) mmltml contributors. All rights reserved.
"""A procedural long-tailed multi-label benchmark in the COCO-LT file formats.

Every class is a visual concept "<colour> <shape>" (``'red circle'``,
``'blue star'``, ...). An image shows one to four objects of distinct classes
at random positions, scales and rotations over a textured, desaturated
background, and its caption names every object and the background, e.g.
``'a photo of a red circle and a blue square on a striped background'``.

**Large label spaces** (``num_classes``): the vocabulary grows to 2,080
classes ``"[<pattern>] <colour> <shape>"`` (20 colours, 13 shapes, 8 fill
patterns: plain, striped, dotted, checkered, hatched, hollow, outlined,
shaded; e.g. ``'hatched maroon crescent'``); its first 24 classes are the
default ones, drawn exactly as in the default benchmark (plain is a solid
fill and is not named). A Zipf profile (``profile='zipf'``) gives such a
vocabulary a realistic long tail with few images.

Training frequencies follow an exponential (CIFAR-LT style) profile from
``max_train_count`` down to ``min_train_count`` (or the Zipf profile
``max / rank``, at least ``min_train_count``) over a seeded random class
order, so head (>= 100 images), medium (20-99) and tail (< 20) classes mix
colours and shapes; the test split is balanced (``test_per_class`` positives
per class). :func:`generate_synthetic_lt` writes::

    out_dir/
        labels.txt      <class name> <index>
        train.txt       <relative image path> <label ids...>
        test.txt        <relative image path> <label ids...>
        captions.txt    <relative image path> <caption>  (train images)
        meta.json       generator version, parameters, counts
        train/*.png, test/*.png

Rendering is deterministic given the seed (per-image seeds are derived from
``(seed, split, index)``), and the same renderer is available in memory
(:func:`render_image`) for pre-training on other seeds.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from mmltml.structures import split_groups
from mmltml.utils.atomic_file import fsync_dir, temp_path_for

GENERATOR_VERSION = '1.0'

COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (215, 35, 35),
    'yellow': (235, 215, 25),
    'green': (35, 165, 55),
    'cyan': (25, 205, 215),
    'blue': (35, 65, 215),
    'pink': (240, 115, 195),
}
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star')
#: The large vocabulary: more colours, shapes and fill patterns.
EXTRA_COLOURS: Dict[str, Tuple[int, int, int]] = {
    'orange': (245, 140, 20),
    'purple': (120, 40, 165),
    'brown': (125, 75, 35),
    'white': (245, 245, 240),
    'black': (20, 20, 25),
    'grey': (128, 128, 128),
    'lime': (165, 235, 40),
    'navy': (20, 30, 115),
    'teal': (0, 125, 125),
    'maroon': (120, 20, 40),
    'olive': (125, 125, 30),
    'magenta': (225, 30, 205),
    'violet': (170, 120, 240),
    'gold': (215, 170, 55),
}
EXTRA_SHAPES: Tuple[str, ...] = ('pentagon', 'hexagon', 'diamond', 'cross',
                                 'ring', 'crescent', 'arrow', 'semicircle',
                                 'heart')
PATTERNS: Tuple[str, ...] = ('plain', 'striped', 'dotted', 'checkered',
                             'hatched', 'hollow', 'outlined', 'shaded')
BACKGROUNDS: Tuple[str, ...] = ('plain', 'striped', 'checkered', 'dotted',
                                'gradient')
#: The large-label-space benchmark (``data/synthetic-2k`` of
#: ``configs/synthetic/lmpt_tinyclip_synthetic-2k.py``): 2,000 classes, Zipf
#: training counts 400 / rank (at least 1), 2 test positives per class.
SYNTHETIC_2K = dict(num_classes=2000, profile='zipf', max_train_count=400,
                    min_train_count=1, test_per_class=2)
MAX_OBJECTS = 4
_SUPERSAMPLE = 2
_SPLIT_CODES = {'train': 0, 'test': 1}


def class_names(num_classes: Optional[int] = None) -> List[str]:
    """The class vocabulary in a fixed order: the 24 ``'<colour> <shape>'``
    classes, or the first ``num_classes`` of the large vocabulary
    (:func:`large_vocabulary`, which starts with them)."""
    base = [f'{colour} {shape}' for colour in COLOURS for shape in SHAPES]
    if num_classes is None:
        return base
    names = large_vocabulary()
    if not 0 < num_classes <= len(names):
        raise ValueError(f'num_classes must be in 1..{len(names)} (the '
                         f'large vocabulary), got {num_classes}')
    return names[:num_classes]


def large_vocabulary() -> List[str]:
    """Every ``"[<pattern>] <colour> <shape>"`` class: the 24 default
    classes first, then the others pattern by pattern (plain first), so
    that a prefix of it mixes colours and shapes."""
    colours = list(COLOURS) + list(EXTRA_COLOURS)
    shapes = list(SHAPES) + list(EXTRA_SHAPES)
    names = class_names()
    for pattern in PATTERNS:
        prefix = '' if pattern == 'plain' else f'{pattern} '
        names += [f'{prefix}{colour} {shape}' for shape in shapes
                  for colour in colours
                  if pattern != 'plain' or colour not in COLOURS
                  or shape not in SHAPES]
    return names


def describe_class(name: str) -> Tuple[str, str, str]:
    """``(pattern, colour, shape)`` of a class name."""
    words = name.split(' ')
    pattern = words[0] if len(words) == 3 else 'plain'
    return pattern, words[-2], words[-1]


def long_tailed_counts(num_classes: int, max_count: int, min_count: int,
                       seed: int, profile: str = 'exponential') -> np.ndarray:
    """Per-class target image counts of a long-tailed profile.

    ``'exponential'``: the i-th most frequent class gets
    ``max * (min / max) ** (i / (C - 1))`` images; ``'zipf'``:
    ``max(min, max / (i + 1))``. Which class has which rank is a seeded
    permutation.
    """
    if profile == 'zipf':
        profile = np.maximum(min_count,
                             max_count / np.arange(1, num_classes + 1))
    elif profile == 'exponential':
        ranks = np.arange(num_classes) / max(num_classes - 1, 1)
        profile = max_count * (min_count / max_count)**ranks
    else:
        raise ValueError(f"profile must be 'exponential' or 'zipf', got "
                         f'{profile!r}')
    order = np.random.default_rng([seed, 7]).permutation(num_classes)
    counts = np.empty(num_classes, dtype=np.int64)
    counts[order] = np.round(profile).astype(np.int64)
    return counts


def _object_numbers(total: int, rng: np.random.Generator) -> List[int]:
    """Objects per image (1 to MAX_OBJECTS) summing to ``total``."""
    numbers: List[int] = []
    while total > 0:
        k = int(min(rng.choice(MAX_OBJECTS, p=[0.3, 0.35, 0.25, 0.1]) + 1,
                    total))
        numbers.append(k)
        total -= k
    return numbers


def sample_label_sets(counts: Sequence[int],
                      rng: np.random.Generator) -> List[List[int]]:
    """Images as sets of distinct class ids that meet the per-class counts.

    Image sizes (objects per image) are drawn first; classes are then placed,
    most frequent first, into images with free room, chosen with probability
    proportional to that room. A class that cannot be placed in full (rare)
    gets fewer images; images never end up empty.
    """
    counts = np.asarray(counts, dtype=np.int64)
    room = np.array(_object_numbers(int(counts.sum()), rng))
    label_sets: List[List[int]] = [[] for _ in room]
    for cls in np.argsort(-counts, kind='stable'):
        free = np.flatnonzero(room > 0)
        num = min(int(counts[cls]), len(free))
        if num == 0:
            continue
        weights = room[free] / room[free].sum()
        for idx in rng.choice(free, size=num, replace=False, p=weights):
            label_sets[idx].append(int(cls))
            room[idx] -= 1
    label_sets = [sorted(labels) for labels in label_sets if labels]
    order = rng.permutation(len(label_sets))
    return [label_sets[i] for i in order]


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------
def _background_colours(rng: np.random.Generator) -> np.ndarray:
    """Two desaturated colours (float RGB) that differ in brightness."""
    grey = rng.uniform(45, 210)
    tint = rng.uniform(0, 255, size=3)
    base = 0.82 * grey + 0.18 * tint
    shift = rng.uniform(25, 60) * rng.choice([-1, 1])
    return np.stack([base, np.clip(base + shift, 0, 255)])


def _render_background(kind: str, size: int,
                       rng: np.random.Generator) -> np.ndarray:
    """A ``size x size x 3`` float background of the given kind."""
    first, second = _background_colours(rng)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    period = rng.uniform(0.1, 0.22) * size
    angle = rng.choice([0.0, 0.5, 0.25, 0.75]) * np.pi
    along = xs * np.cos(angle) + ys * np.sin(angle)
    if kind == 'plain':
        mask = np.zeros((size, size))
    elif kind == 'striped':
        mask = (along // (period / 2)) % 2
    elif kind == 'checkered':
        mask = ((xs // period) + (ys // period)) % 2
    elif kind == 'dotted':
        cx = (xs % period) - period / 2
        cy = (ys % period) - period / 2
        mask = (cx**2 + cy**2 < (0.22 * period)**2).astype(np.float64)
    else:  # gradient
        mask = (along - along.min()) / (np.ptp(along) + 1e-6)
    return first + mask[..., None] * (second - first)


def _shape_polygon(shape: str, cx: float, cy: float, radius: float,
                   angle: float) -> List[Tuple[float, float]]:
    """Vertices of a square, triangle or five-pointed star."""
    if shape == 'square':
        radii, num = [radius * 0.9], 4
    elif shape == 'triangle':
        radii, num = [radius], 3
    else:  # star
        radii, num = [radius, radius * 0.45], 10
    thetas = angle + 2 * np.pi * np.arange(num) / num
    return [(cx + radii[i % len(radii)] * np.cos(t),
             cy + radii[i % len(radii)] * np.sin(t))
            for i, t in enumerate(thetas)]


def _place_objects(num: int, size: int,
                   rng: np.random.Generator) -> List[Tuple[float, float,
                                                           float]]:
    """Centres and radii of ``num`` objects that overlap little."""
    placed: List[Tuple[float, float, float]] = []
    for _ in range(num):
        best, best_gap = None, -np.inf
        for _ in range(20):
            radius = rng.uniform(0.12, 0.22) * size
            cx, cy = rng.uniform(radius * 0.8, size - radius * 0.8, size=2)
            gap = min((np.hypot(cx - x, cy - y) - 0.75 * (radius + r)
                       for x, y, r in placed),
                      default=np.inf)
            if gap > best_gap:
                best, best_gap = (cx, cy, radius), gap
            if gap >= 0:
                break
        placed.append(best)
    return placed


def _object_colour(name: str, rng: np.random.Generator) -> Tuple[int, ...]:
    """The colour of ``name`` with a little brightness and channel jitter."""
    rgb = np.array({**COLOURS, **EXTRA_COLOURS}[name], dtype=np.float64)
    rgb = rgb * rng.uniform(0.88, 1.08) + rng.uniform(-12, 12, size=3)
    return tuple(int(v) for v in np.clip(rgb, 0, 255))


def _unit_outline(shape: str) -> np.ndarray:
    """Vertices (x, y) of a large-vocabulary polygon shape of radius 1."""
    if shape in ('pentagon', 'hexagon'):
        num = 5 if shape == 'pentagon' else 6
        t = 2 * np.pi * np.arange(num) / num
        return 0.95 * np.stack([np.cos(t), np.sin(t)], 1)
    if shape == 'diamond':
        return np.array([[1, 0], [0, 0.6], [-1, 0], [0, -0.6]])
    if shape == 'cross':
        a, w = 0.95, 0.32
        return np.array([[a, w], [w, w], [w, a], [-w, a], [-w, w], [-a, w],
                         [-a, -w], [-w, -w], [-w, -a], [w, -a], [w, -w],
                         [a, -w]])
    if shape == 'arrow':
        return np.array([[1, 0], [0.2, 0.7], [0.2, 0.28], [-0.95, 0.28],
                         [-0.95, -0.28], [0.2, -0.28], [0.2, -0.7]])
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)  # heart
    x, y = 16 * np.sin(t)**3, (13 * np.cos(t) - 5 * np.cos(2 * t) -
                                2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, -y], 1) / 17


def _shape_mask(shape: str, size: int, cx: float, cy: float, radius: float,
                angle: float) -> Image.Image:
    """An 'L' mask (255 inside) of any shape of the vocabulary."""
    mask = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(mask)

    def disc(x: float, y: float, r: float, value: int) -> None:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=value)

    if shape in SHAPES:
        if shape == 'circle':
            disc(cx, cy, radius, 255)
        else:
            draw.polygon(_shape_polygon(shape, cx, cy, radius, angle),
                         fill=255)
    elif shape == 'ring':
        disc(cx, cy, radius, 255)
        disc(cx, cy, 0.55 * radius, 0)
    elif shape == 'crescent':
        disc(cx, cy, radius, 255)
        disc(cx + 0.45 * radius * np.cos(angle),
             cy + 0.45 * radius * np.sin(angle), 0.85 * radius, 0)
    elif shape == 'semicircle':
        start = np.degrees(angle)
        draw.pieslice([cx - radius, cy - radius, cx + radius, cy + radius],
                      start, start + 180, fill=255)
    else:
        rot = np.array([[np.cos(angle), -np.sin(angle)],
                        [np.sin(angle), np.cos(angle)]])
        points = _unit_outline(shape) @ rot.T * radius + [cx, cy]
        draw.polygon([tuple(p) for p in points], fill=255)
    return mask


def _contrast(rgb: np.ndarray) -> np.ndarray:
    """A darker shade of a light colour, a lighter one of a dark colour."""
    return rgb * 0.35 if rgb.mean() > 90 else rgb * 0.4 + 150


def _draw_patterned(canvas: Image.Image, pattern: str, shape: str,
                    fill: Tuple[int, ...],
                    pose: Tuple[float, float, float, float]) -> None:
    """Draw one object of the large vocabulary (pattern, any shape)."""
    cx, cy, radius, angle = pose
    size = canvas.size[0]
    # the object's bounding box: only its pixels are computed
    x0, y0 = (max(0, int(c - radius) - 1) for c in (cx, cy))
    x1, y1 = (min(size, int(c + radius) + 2) for c in (cx, cy))
    mask = _shape_mask(shape, size, cx, cy, radius, angle).crop(
        (x0, y0, x1, y1))
    rgb = np.array(fill, dtype=np.float64)
    other = _contrast(rgb)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    along = (xs - cx) * np.cos(angle) + (ys - cy) * np.sin(angle)
    across = (ys - cy) * np.cos(angle) - (xs - cx) * np.sin(angle)
    period = 0.45 * radius
    marked = np.zeros(xs.shape, dtype=bool)  # plain, shaded
    if pattern in ('hollow', 'outlined'):
        width = 2 * int(0.16 * radius) + 1
        inner = np.asarray(mask.filter(ImageFilter.MinFilter(width))) > 0
        marked = (np.asarray(mask) > 0) & ~inner
        if pattern == 'hollow':
            mask = Image.fromarray((marked * 255).astype(np.uint8))
            marked = np.zeros_like(marked)
    elif pattern == 'striped':
        marked = (along // (period / 2)) % 2 == 1
    elif pattern == 'dotted':
        du = (along % period) - period / 2
        dv = (across % period) - period / 2
        marked = du**2 + dv**2 < (0.28 * period)**2
    elif pattern == 'checkered':
        marked = ((along // period) + (across // period)) % 2 == 1
    elif pattern == 'hatched':
        width = 0.14 * period
        marked = ((np.abs((along + across) % period - period / 2) < width)
                  | (np.abs((along - across) % period - period / 2) < width))
    elif pattern == 'shaded':  # from the colour to its contrast
        t = np.clip((along / radius + 1) / 2, 0, 1)[..., None]
        rgb = rgb * (1 - 0.7 * t) + other * 0.7 * t
    image = np.where(marked[..., None], other, rgb)
    image = np.broadcast_to(image, xs.shape + (3, ))
    canvas.paste(
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)), (x0, y0),
        mask)


def join_objects(names: Sequence[str]) -> str:
    """``'a red circle, a blue star and a green square'``."""
    phrases = [f'a {name}' for name in names]
    if len(phrases) == 1:
        return phrases[0]
    return ', '.join(phrases[:-1]) + ' and ' + phrases[-1]


def make_caption(names: Sequence[str],
                 background: Optional[str] = None) -> str:
    """``'a photo of a red circle and a blue star on a plain background'``.

    The background phrase is left out when ``background`` is None.
    """
    caption = f'a photo of {join_objects(names)}'
    if background is None:
        return caption
    return f'{caption} on a {background} background'


def render_image(labels: Sequence[int], rng: np.random.Generator,
                 image_size: int = 64,
                 names: Optional[Sequence[str]] = None
                 ) -> Tuple[np.ndarray, str, dict]:
    """Draw one image of the given classes.

    Args:
        labels: distinct class ids (indices into ``names``).
        rng: the image's own random generator.
        image_size: output side length in pixels.
        names: the class vocabulary; :func:`class_names` by default.

    Returns:
        The ``HxWx3`` uint8 image, its caption, and a description
        (``background`` and the object class names in drawing order).
    """
    names = class_names() if names is None else names
    big = image_size * _SUPERSAMPLE
    background = str(rng.choice(BACKGROUNDS))
    canvas = Image.fromarray(
        np.clip(_render_background(background, big, rng), 0,
                255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    order = [int(i) for i in rng.permutation(list(labels))]
    for cls, (cx, cy, radius) in zip(order,
                                     _place_objects(len(order), big, rng)):
        pattern, colour_name, shape = describe_class(names[cls])
        fill = _object_colour(colour_name, rng)
        angle = 0.0 if shape == 'circle' else rng.uniform(0, 2 * np.pi)
        if pattern != 'plain' or shape not in SHAPES:
            _draw_patterned(canvas, pattern, shape, fill,
                            (cx, cy, radius, angle))
        elif shape == 'circle':  # the default classes, as they always were
            draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius],
                         fill=fill)
        else:
            draw.polygon(_shape_polygon(shape, cx, cy, radius, angle),
                         fill=fill)
    image = np.asarray(
        canvas.resize((image_size, image_size), Image.BOX), dtype=np.float64)
    image = image + rng.normal(0, 3.0, size=image.shape)
    drawn = [names[cls] for cls in order]
    caption = make_caption(drawn, background)
    return (np.clip(np.round(image), 0, 255).astype(np.uint8), caption,
            dict(background=background, objects=drawn))


def image_rng(seed: int, split: int, index: int) -> np.random.Generator:
    """The random generator of image ``index`` of split code ``split``."""
    return np.random.default_rng([seed, split, index])


# ---------------------------------------------------------------------------
# Writing a benchmark
# ---------------------------------------------------------------------------
#: Parameters recorded only when they differ from the default benchmark's
#: (whose ``meta.json`` and files stay as they were).
OPTIONAL_PARAMS = dict(num_classes=None, profile='exponential')


def _params(seed: int, image_size: int, max_train_count: int,
            min_train_count: int, test_per_class: int,
            num_classes: Optional[int], profile: str) -> dict:
    params = dict(
        version=GENERATOR_VERSION,
        seed=seed,
        image_size=image_size,
        max_train_count=max_train_count,
        min_train_count=min_train_count,
        test_per_class=test_per_class)
    for key, value in dict(num_classes=num_classes, profile=profile).items():
        if value != OPTIONAL_PARAMS[key]:
            params[key] = value
    return params


def _write_split(root: str, split: str, label_sets: List[List[int]],
                 seed: int, image_size: int,
                 names: Sequence[str]) -> List[Tuple[str, str]]:
    """Render and save one split; return ``(path, caption)`` per image."""
    os.makedirs(osp.join(root, split))
    records = []
    with open(osp.join(root, f'{split}.txt'), 'w') as f:
        for index, labels in enumerate(label_sets):
            path = f'{split}/{index:06d}.png'
            image, caption, _ = render_image(
                labels, image_rng(seed, _SPLIT_CODES[split], index),
                image_size, names)
            Image.fromarray(image).save(osp.join(root, path))
            f.write(path + ' ' + ' '.join(map(str, labels)) + '\n')
            records.append((path, caption))
    return records


def _group_counts(counts: Sequence[int]) -> Dict[str, int]:
    """Number of head / medium / tail classes (the default thresholds of
    :func:`~mmltml.structures.split_groups`)."""
    return {name: len(idx) for name, idx in split_groups(counts).items()}


def _file_digest(root: str, names: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        with open(osp.join(root, name), 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()


def _build(root: str, params: dict) -> dict:
    """Write the whole benchmark into the empty directory ``root``."""
    seed = params['seed']
    names = class_names(params.get('num_classes'))
    with open(osp.join(root, 'labels.txt'), 'w') as f:
        f.writelines(f'{name} {i}\n' for i, name in enumerate(names))
    targets = long_tailed_counts(
        len(names), params['max_train_count'], params['min_train_count'],
        seed, params.get('profile', OPTIONAL_PARAMS['profile']))
    split_sets = dict(
        train=sample_label_sets(targets, np.random.default_rng([seed, 0])),
        test=sample_label_sets([params['test_per_class']] * len(names),
                               np.random.default_rng([seed, 1])))
    captions = _write_split(root, 'train', split_sets['train'], seed,
                            params['image_size'], names)
    _write_split(root, 'test', split_sets['test'], seed, params['image_size'],
                 names)
    with open(osp.join(root, 'captions.txt'), 'w') as f:
        f.writelines(f'{path} {caption}\n' for path, caption in captions)
    meta = dict(params)
    for split, label_sets in split_sets.items():
        counts = np.bincount(
            np.concatenate(label_sets), minlength=len(names))
        meta[f'num_{split}_images'] = len(label_sets)
        meta[f'{split}_class_counts'] = counts.tolist()
    meta['groups'] = _group_counts(meta['train_class_counts'])
    meta['list_sha256'] = _file_digest(
        root, ['labels.txt', 'train.txt', 'test.txt', 'captions.txt'])
    with open(osp.join(root, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def read_meta(out_dir: str) -> Optional[dict]:
    """The ``meta.json`` of a generated benchmark, or None."""
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _matches(meta: Optional[dict], params: dict) -> bool:
    return meta is not None and all(
        meta.get(k) == v for k, v in params.items()) and all(
            meta.get(k, v) == params.get(k, v)
            for k, v in OPTIONAL_PARAMS.items())


def _move_aside(path: str) -> None:
    """Rename ``path`` out of the way, then delete it."""
    trash = temp_path_for(path)
    try:
        os.rename(path, trash)
    except FileNotFoundError:  # another process moved it already
        return
    shutil.rmtree(trash, ignore_errors=True)


def _move_into_place(tmp_dir: str, out_dir: str, params: dict) -> None:
    """Rename ``tmp_dir`` to ``out_dir`` unless an equal benchmark won."""
    for _ in range(3):
        try:
            os.rename(tmp_dir, out_dir)
            fsync_dir(osp.dirname(out_dir))
            return
        except OSError:  # out_dir exists and is not empty
            if _matches(read_meta(out_dir), params):
                return
            _move_aside(out_dir)
    raise RuntimeError(f'could not move the benchmark into {out_dir}')


def generate_synthetic_lt(out_dir: str,
                          seed: int = 0,
                          image_size: int = 64,
                          max_train_count: int = 400,
                          min_train_count: int = 4,
                          test_per_class: int = 80,
                          num_classes: Optional[int] = None,
                          profile: str = 'exponential') -> dict:
    """Generate the synthetic LT multi-label benchmark into ``out_dir``.

    Idempotent and safe under concurrency: when ``out_dir`` already holds a
    benchmark with the same parameters it is left untouched; otherwise the
    benchmark is written into a temporary sibling directory and renamed into
    place atomically, so concurrent callers (e.g. distributed ranks) never see
    a partial benchmark and the first finished one wins. A benchmark made
    with other parameters is replaced; a non-empty directory that is not a
    benchmark is never touched (``FileExistsError``).

    Args:
        out_dir: the benchmark root (the dataset's ``data_root``).
        seed: the random seed; everything is a function of it.
        image_size: side length of the square images.
        max_train_count: training images of the most frequent class.
        min_train_count: training images of the least frequent class.
        test_per_class: test images per class (balanced test split).
        num_classes: the first ``num_classes`` classes of the large
            vocabulary (up to 2,080) instead of the 24 default classes.
        profile: ``'exponential'`` or ``'zipf'`` training counts (see
            :func:`long_tailed_counts`).

    Returns:
        The content of ``meta.json`` (parameters, image counts, per-class
        train/test counts, head/medium/tail group sizes) plus ``out_dir``.
    """
    out_dir = osp.abspath(out_dir)
    params = _params(seed, image_size, max_train_count, min_train_count,
                     test_per_class, num_classes, profile)
    meta = read_meta(out_dir)
    if not _matches(meta, params):
        if meta is None and osp.isdir(out_dir) and os.listdir(out_dir):
            raise FileExistsError(
                f'{out_dir} is not empty and holds no synthetic benchmark '
                '(meta.json); choose another directory.')
        tmp_dir = temp_path_for(out_dir)
        os.makedirs(tmp_dir)
        try:
            _build(tmp_dir, params)
            _move_into_place(tmp_dir, out_dir, params)
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        meta = read_meta(out_dir)
    return dict(meta, out_dir=out_dir)
