# Copyright (c) mmltml contributors. All rights reserved.
import os.path as osp
from collections import Counter

import numpy as np
import pytest
from mmpretrain.registry import DATA_SAMPLERS

from mmltml.datasets import ClassAwareSampler, VOCLTDataset
from mmltml.datasets.samplers import (class_aware_sampler,
                                      epoch_sequence_sampler)


class ToyDataset:
    """Minimal dataset: only ``__len__`` and ``get_cat_ids``."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, idx):
        return self.labels[idx]


def _single_label(sizes):
    """One label per image; class c has sizes[c] images."""
    return ToyDataset([[c] for c, n in enumerate(sizes) for _ in range(n)])


def _as_rank(monkeypatch, rank, world_size):
    # the rank is read by the shared base of the samplers
    monkeypatch.setattr(epoch_sequence_sampler, 'get_dist_info', lambda:
                        (rank, world_size))


def test_classes_drawn_uniformly_single_label():
    sizes = [200, 50, 10, 3, 1, 0]  # class 5 has no image
    ds = _single_label(sizes)
    sampler = ClassAwareSampler(ds, seed=3)
    indices = list(sampler)
    # floor(max n * C / 4) with C = 5 classes that have images
    assert len(indices) == len(sampler) == 200 * 5 // 4
    classes = [ds.labels[i][0] for i in indices]
    # consecutive groups of 3 come from one class
    groups = [classes[k:k + 3] for k in range(0, len(classes) - 2, 3)]
    assert all(len(set(g)) == 1 for g in groups)
    picks = Counter(g[0] for g in groups)
    expected = len(groups) / 5  # uniform over the 5 non-empty classes
    assert set(picks) == {0, 1, 2, 3, 4}
    for c in range(5):
        assert abs(picks[c] - expected) <= 0.1 * expected
    # a class's images are cycled through evenly
    draws_c3 = Counter(i for i in indices if ds.labels[i] == [3])
    assert max(draws_c3.values()) - min(draws_c3.values()) <= 1
    # plain random sampling would be far from uniform over classes
    natural = np.array(sizes[:5]) / sum(sizes)
    assert natural[4] * len(indices) < 2 < Counter(classes)[4]


def test_multi_label_voc_lt(ltml_dir):
    ds = VOCLTDataset(osp.join(ltml_dir, 'voc'))
    sampler = ClassAwareSampler(ds, seed=0)
    indices = list(sampler)
    assert len(indices) == 775 * 20 // 4
    triples = [indices[k:k + 3] for k in range(0, len(indices) - 2, 3)]
    # each triple shares at least one class (the drawn one)
    shared = [
        set.intersection(*(set(ds.get_cat_ids(i)) for i in t)) for t in triples
    ]
    assert all(shared)
    # every class is drawn about len(triples) / 20 times: images containing
    # a class appear at least that often, even the rarest (cow, n=4)
    expected = len(triples) / 20
    for c in range(20):
        with_c = sum(c in s for s in shared)
        assert with_c >= 0.9 * expected, (c, with_c, expected)
    cow = sum(9 in ds.get_cat_ids(i) for i in indices)
    assert cow >= 3 * 0.9 * expected  # vs. ~14 under uniform sampling


def test_determinism_and_epochs():
    ds = _single_label([30, 7, 2])
    a, b = ClassAwareSampler(ds, seed=1), ClassAwareSampler(ds, seed=1)
    assert list(a) == list(b)
    assert list(a) == list(a)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(ClassAwareSampler(ds, seed=2)) != list(
        ClassAwareSampler(ds, seed=1))


@pytest.mark.parametrize('round_up', [True, False])
def test_distributed_shards(monkeypatch, round_up):
    ds = _single_label([41, 9, 3, 1])  # epoch of 41 * 4 // 4 = 41 samples
    world = 3
    full = list(ClassAwareSampler(ds, seed=5, round_up=round_up))
    shards = []
    for rank in range(world):
        _as_rank(monkeypatch, rank, world)
        sampler = ClassAwareSampler(ds, seed=5, round_up=round_up)
        sampler.set_epoch(0)
        shards.append(list(sampler))
        assert len(shards[-1]) == len(sampler)
    lengths = {len(s) for s in shards}
    assert lengths == ({14} if round_up else {13})
    # the shards are disjoint slices of one global sequence
    joined = sum(shards, [])
    padded = (full + full)[:42] if round_up else full[:39]
    assert joined == padded


def test_build_and_errors():
    ds = _single_label([8, 4])
    sampler = DATA_SAMPLERS.build(
        dict(type='ClassAwareSampler', num_samples_cls=2, reduce=2),
        default_args=dict(dataset=ds, seed=0))
    assert len(sampler) == 8 and len(list(sampler)) == 8
    with pytest.raises(TypeError, match='get_cat_ids'):
        ClassAwareSampler(list(range(4)), seed=0)
    with pytest.raises(ValueError, match='no image has a label'):
        ClassAwareSampler(ToyDataset([[], []]), seed=0)
    with pytest.raises(ValueError, match='num_samples_cls'):
        ClassAwareSampler(ds, num_samples_cls=0, seed=0)
    with pytest.raises(ValueError, match='empty epoch'):
        ClassAwareSampler(_single_label([1]), reduce=4, seed=0)


def test_classes_without_images_are_named(monkeypatch):
    ds = ToyDataset([[0], [2, 0], [2]])
    ds.metainfo = dict(classes=('cat', 'dog', 'bird', 'fish'))
    messages = []
    monkeypatch.setattr(class_aware_sampler, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    sampler = ClassAwareSampler(ds, seed=0)
    assert set(sampler.cls_to_imgs) == {0, 2}
    assert len(messages) == 1
    assert '1 (dog)' in messages[0] and '3 (fish)' in messages[0]
    assert 'cat' not in messages[0] and 'bird' not in messages[0]
