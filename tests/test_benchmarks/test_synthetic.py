# Copyright (c) mmltml contributors. All rights reserved.
"""The synthetic LT benchmark generator and the shipped tiny CLIP."""
import hashlib
import json
import os
import os.path as osp
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch

from mmltml.benchmarks.synthetic import (class_names, generate_synthetic_lt,
                                         long_tailed_counts,
                                         sample_label_sets)
from mmltml.models.utils.tiny_clip import TINY_CLIP_CFG, TINY_CLIP_CHECKPOINT

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHECKPOINT = osp.join(REPO_ROOT, TINY_CLIP_CHECKPOINT)

# a small benchmark keeps these tests fast (defaults: 64 px, 400/4/80)
SMALL = dict(
    image_size=32, max_train_count=100, min_train_count=3, test_per_class=30)


def _tree_digest(root: str) -> str:
    """sha256 over every file's relative path and bytes below ``root``."""
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            path = osp.join(folder, name)
            digest.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def _read_list(path: str) -> list:
    with open(path) as f:
        return [line.split() for line in f.read().splitlines()]


@pytest.fixture(scope='module')
def bench(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('synthetic') / 'bench')
    generate_synthetic_lt(root, seed=0, **SMALL)
    return root


def test_deterministic(bench, tmp_path):
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    generate_synthetic_lt(again, seed=0, **SMALL)
    generate_synthetic_lt(other, seed=1, **SMALL)
    assert _tree_digest(again) == _tree_digest(bench)
    assert _tree_digest(other) != _tree_digest(bench)
    with open(osp.join(bench, 'train.txt')) as f1, \
            open(osp.join(other, 'train.txt')) as f2:
        assert f1.read() != f2.read()


def test_coco_lt_format(bench):
    labels = _read_list(osp.join(bench, 'labels.txt'))
    names = [' '.join(parts[:-1]) for parts in labels]
    assert names == class_names() and len(names) >= 20
    assert [int(parts[-1]) for parts in labels] == list(range(len(names)))
    for split in ('train', 'test'):
        for parts in _read_list(osp.join(bench, f'{split}.txt')):
            assert parts[0].startswith(f'{split}/')
            assert osp.isfile(osp.join(bench, parts[0]))
            ids = [int(i) for i in parts[1:]]
            assert ids and len(set(ids)) == len(ids)
            assert all(0 <= i < len(names) for i in ids)


def _group_sizes(counts: np.ndarray) -> dict:
    return dict(
        head=int((counts >= 100).sum()),
        medium=int(((counts >= 20) & (counts < 100)).sum()),
        tail=int((counts < 20).sum()))


def test_long_tailed_files(bench):
    with open(osp.join(bench, 'meta.json')) as f:
        meta = json.load(f)
    num_classes = len(class_names())
    counts = {}
    for split in ('train', 'test'):
        ids = [int(i) for p in _read_list(osp.join(bench, f'{split}.txt'))
               for i in p[1:]]
        counts[split] = np.bincount(ids, minlength=num_classes)
        assert counts[split].tolist() == meta[f'{split}_class_counts']
    assert counts['train'].max() >= 100 and counts['train'].min() < 20
    assert counts['test'].min() >= 29
    assert meta['groups'] == _group_sizes(counts['train'])


def test_default_profile():
    """The default parameters give non-empty head/medium/tail groups."""
    targets = long_tailed_counts(len(class_names()), 400, 4, seed=0)
    train = sample_label_sets(targets, np.random.default_rng(0))
    test = sample_label_sets([80] * len(targets), np.random.default_rng(1))
    counts = np.bincount(np.concatenate(train), minlength=len(targets))
    assert counts.tolist() == targets.tolist()
    assert all(size > 0 for size in _group_sizes(counts).values())
    assert all(1 <= len(labels) <= 4 for labels in train + test)
    assert np.bincount(np.concatenate(test)).min() >= 78


def test_captions_name_every_class(bench):
    names = class_names()
    train = _read_list(osp.join(bench, 'train.txt'))
    with open(osp.join(bench, 'captions.txt')) as f:
        captions = [line.split(' ', 1) for line in f.read().splitlines()]
    assert [c[0] for c in captions] == [p[0] for p in train]
    for parts, (_, caption) in zip(train, captions):
        for i in parts[1:]:
            assert f'a {names[int(i)]}' in caption
        others = set(range(len(names))) - {int(i) for i in parts[1:]}
        assert not any(f'a {names[i]} ' in caption + ' ' for i in others)


def test_idempotent_and_regenerates(bench, tmp_path):
    meta_path = osp.join(bench, 'meta.json')
    mtime = os.stat(meta_path).st_mtime_ns
    meta = generate_synthetic_lt(bench, seed=0, **SMALL)
    assert os.stat(meta_path).st_mtime_ns == mtime
    assert meta['seed'] == 0 and meta['out_dir'] == bench

    root = str(tmp_path / 'bench')
    generate_synthetic_lt(root, seed=0, **SMALL)
    meta = generate_synthetic_lt(root, seed=3, **SMALL)
    with open(osp.join(root, 'meta.json')) as f:
        assert json.load(f)['seed'] == 3 == meta['seed']
    assert not [p for p in os.listdir(tmp_path) if p != 'bench']


def test_refuses_foreign_directory(tmp_path):
    (tmp_path / 'mine.txt').write_text('not a benchmark')
    with pytest.raises(FileExistsError):
        generate_synthetic_lt(str(tmp_path), seed=0, **SMALL)
    assert os.listdir(tmp_path) == ['mine.txt']


def _generate(root: str) -> str:
    return generate_synthetic_lt(root, seed=0, **SMALL)['list_sha256']


def test_concurrent_generation(bench, tmp_path):
    root = str(tmp_path / 'bench')
    with ProcessPoolExecutor(3) as pool:
        digests = list(pool.map(_generate, [root] * 3))
    assert len(set(digests)) == 1
    assert _tree_digest(root) == _tree_digest(bench)
    assert os.listdir(tmp_path) == ['bench']


def test_tiny_clip_checkpoint():
    from mmltml.models.utils.clip_loader import build_open_clip
    assert osp.getsize(CHECKPOINT) <= 20 * 2**20
    state = torch.load(
        CHECKPOINT, map_location='cpu', weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    model = build_open_clip(
        model_cfg=TINY_CLIP_CFG, pretrained=CHECKPOINT)
    size = TINY_CLIP_CFG['vision_cfg']['image_size']
    with torch.no_grad():
        image = model.encode_image(torch.zeros(1, 3, size, size))
    assert image.shape == (1, TINY_CLIP_CFG['embed_dim'])


def test_tiny_clip_checkpoint_is_relative_to_working_dir(tmp_path,
                                                       monkeypatch):
    """Like any weights path in a config, the default checkpoint is found
    from the working directory (not the package folder, which a
    non-editable install moves), and a missing one is named in the error.
    """
    from mmltml.models.utils.clip_loader import build_open_clip
    assert not osp.isabs(TINY_CLIP_CHECKPOINT)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=TINY_CLIP_CHECKPOINT):
        build_open_clip(
            model_cfg=TINY_CLIP_CFG, pretrained=TINY_CLIP_CHECKPOINT)


@pytest.mark.slow
def test_tiny_clip_zero_shot(tmp_path):
    """The shipped tiny CLIP recognises a freshly generated test split."""
    from PIL import Image
    from sklearn.metrics import average_precision_score

    from mmltml.models.utils.clip_loader import build_clip_and_tokenizer
    from mmltml.models.utils.tiny_clip import TINY_CLIP_MEAN, TINY_CLIP_STD
    root = generate_synthetic_lt(
        str(tmp_path / 'fresh'), seed=7, max_train_count=100,
        min_train_count=3, test_per_class=40)['out_dir']
    lines = _read_list(osp.join(root, 'test.txt'))
    names = class_names()
    labels = np.zeros((len(lines), len(names)))
    for row, parts in enumerate(lines):
        labels[row, [int(i) for i in parts[1:]]] = 1
    images = torch.from_numpy(
        np.stack([np.asarray(Image.open(osp.join(root, p[0])))
                  for p in lines])).permute(0, 3, 1, 2).float()
    images = (images - torch.tensor(TINY_CLIP_MEAN).view(1, 3, 1, 1)) / \
        torch.tensor(TINY_CLIP_STD).view(1, 3, 1, 1)
    model, tokenizer = build_clip_and_tokenizer(
        model_cfg=TINY_CLIP_CFG, pretrained=CHECKPOINT)
    with torch.no_grad():
        text = model.encode_text(
            tokenizer([f'a photo of a {n}.' for n in names]), normalize=True)
        scores = (model.encode_image(images, normalize=True) @ text.t())
    ap = [average_precision_score(labels[:, c], scores[:, c].numpy())
          for c in range(len(names))]
    chance = labels.mean(0).mean()  # expected AP of random scores
    assert 0.05 < chance < 0.15
    assert np.mean(ap) > 3 * chance
    assert min(ap) > chance


@pytest.mark.parametrize('num_classes, hi, lo', [(24, 400, 4), (5, 90, 10)])
def test_long_tailed_counts_follow_the_exponential_profile(
        num_classes, hi, lo):
    """Rank i gets round(hi * (lo / hi) ** (i / (C - 1))) images, whichever
    class holds that rank; the seed only permutes the classes."""
    expected = [round(hi * (lo / hi)**(i / (num_classes - 1)))
                for i in range(num_classes)]
    first = long_tailed_counts(num_classes, hi, lo, seed=0)
    other = long_tailed_counts(num_classes, hi, lo, seed=1)
    assert sorted(first.tolist(), reverse=True) == expected
    assert sorted(other.tolist(), reverse=True) == expected
    assert first.tolist() != other.tolist()


def test_large_vocabulary_extends_the_default_classes():
    from mmltml.benchmarks.synthetic import (COLOURS, EXTRA_COLOURS,
                                             EXTRA_SHAPES, PATTERNS, SHAPES,
                                             describe_class,
                                             large_vocabulary)
    names = large_vocabulary()
    assert len(names) == len(set(names)) == (
        len(COLOURS) + len(EXTRA_COLOURS)) * (
            len(SHAPES) + len(EXTRA_SHAPES)) * len(PATTERNS) == 2080
    assert names[:24] == class_names() == class_names(None)
    assert class_names(100) == names[:100]
    assert describe_class('red circle') == ('plain', 'red', 'circle')
    assert describe_class('hatched maroon crescent') == (
        'hatched', 'maroon', 'crescent')
    described = {describe_class(n) for n in names}
    assert len(described) == 2080  # a class is its three attributes
    with pytest.raises(ValueError, match='1..2080'):
        class_names(2081)


def test_zipf_profile():
    counts = long_tailed_counts(50, 400, 2, seed=0, profile='zipf')
    expected = [max(2, round(400 / (i + 1))) for i in range(50)]
    assert sorted(counts.tolist(), reverse=True) == expected
    with pytest.raises(ValueError, match='profile'):
        long_tailed_counts(5, 10, 1, seed=0, profile='linear')


def test_every_pattern_and_shape_draws_an_object():
    """Each attribute of the large vocabulary changes the pixels: the same
    image (seed) with one attribute changed differs, and each object
    differs from the empty background."""
    from mmltml.benchmarks.synthetic import (EXTRA_SHAPES, PATTERNS,
                                             large_vocabulary, render_image)
    names = large_vocabulary()
    images = {}
    for pattern in PATTERNS:
        for shape in ('circle', ) + EXTRA_SHAPES:
            name = ' '.join(([] if pattern == 'plain' else [pattern]) +
                            ['orange', shape])
            image, caption, info = render_image(
                [names.index(name)], np.random.default_rng(5), 64, names)
            assert caption.startswith(f'a photo of a {name} on a')
            assert info['objects'] == [name]
            images[name] = image.astype(int)
    assert len(images) == len(PATTERNS) * (1 + len(EXTRA_SHAPES))
    keys = list(images)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert np.abs(images[a] - images[b]).sum() > 0, (a, b)


def test_large_vocabulary_benchmark(tmp_path):
    root = str(tmp_path / 'large')
    meta = generate_synthetic_lt(root, seed=0, image_size=32,
                                 max_train_count=30, min_train_count=1,
                                 test_per_class=1, num_classes=60,
                                 profile='zipf')
    labels = _read_list(osp.join(root, 'labels.txt'))
    assert [' '.join(p[:-1]) for p in labels] == class_names(60)
    assert meta['num_classes'] == 60 and meta['profile'] == 'zipf'
    assert sorted(meta['train_class_counts'], reverse=True)[:3] == [30, 15,
                                                                    10]
    # the default benchmark's parameters and meta.json keep their keys
    small = generate_synthetic_lt(str(tmp_path / 'small'), seed=0, **SMALL)
    assert 'num_classes' not in small and 'profile' not in small
    # the same directory with other classes is regenerated
    meta = generate_synthetic_lt(root, seed=0, image_size=32,
                                 max_train_count=30, min_train_count=1,
                                 test_per_class=1, num_classes=40,
                                 profile='zipf')
    assert len(_read_list(osp.join(root, 'labels.txt'))) == 40
    meta = generate_synthetic_lt(root, seed=0, image_size=32,
                                 max_train_count=30, min_train_count=1,
                                 test_per_class=1)
    assert len(_read_list(osp.join(root, 'labels.txt'))) == 24
