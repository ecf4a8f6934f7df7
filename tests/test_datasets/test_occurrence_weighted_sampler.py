# Copyright (c) mmltml contributors. All rights reserved.
"""OccurrenceWeightedSampler against LM-CLIP's sampling distribution.

``official_probs`` transcribes ``dataset_loaders/coco_mlt.py:162-198``
(ref-lmclip.md §3): per-class counts of the loaded split, sample weight
(sum of N / n_c over the image's labels)^s divided by its maximum, drawn by
``WeightedRandomSampler`` with probability r_i / sum_j r_j. The epoch
statistics of ref-lmclip.md §3 (distinct images, person and rarest-class
occurrences, computed there from the same lists) are the golden values.
"""
from collections import Counter

import numpy as np
import pytest
from mmpretrain.registry import DATA_SAMPLERS

from mmltml.datasets import OccurrenceWeightedSampler
from mmltml.datasets.samplers import epoch_sequence_sampler


class ToyDataset:
    """Minimal dataset: only ``__len__`` and ``get_cat_ids``."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, idx):
        return self.labels[idx]


def read_labels(path):
    with open(path) as f:
        return [[int(v) for v in line.split()[1:]] for line in f
                if line.strip()]


def official_probs(labels, num_classes, power):
    num_images = len(labels)
    class_freq = [0] * num_classes
    for ids in labels:
        for c in ids:
            class_freq[c] += 1
    weights = [sum(num_images / class_freq[c] for c in ids)**power
               for ids in labels]
    top = max(weights)
    weights = [w / top for w in weights]
    total = sum(weights)
    return np.array([w / total for w in weights])


SPLITS = {'voc': 20, 'coco': 80}


@pytest.mark.parametrize('ds,power,distinct,person,rarest', [
    ('voc', 0.7, 577, 831, (32, 33, 35)),
    ('voc', 1.35, 360, 931, (105, 93, 88)),
    ('coco', 1.35, 926, 1235, (35, 53, 36)),
    ('coco', 1.6, 848, 1250, (43, 73, 44)),
])
def test_distribution_is_the_official_one(ltml_dir, ds, power, distinct,
                                          person, rarest):
    labels = read_labels(f'{ltml_dir}/{ds}/{ds}_lt_train.txt')
    sampler = OccurrenceWeightedSampler(ToyDataset(labels), power=power,
                                        seed=0)
    probs = official_probs(labels, SPLITS[ds], power)
    np.testing.assert_allclose(sampler.probs, probs, rtol=1e-12, atol=0)
    # one epoch = N draws (143 / 239 iterations of 8)
    num_images = len(labels)
    assert len(sampler) == num_images
    # ref-lmclip §3 table: expected distinct images and class occurrences
    assert (1 - (1 - probs)**num_images).sum() == pytest.approx(distinct,
                                                                 abs=0.5)
    onehot = np.zeros((num_images, SPLITS[ds]))
    for row, ids in enumerate(labels):
        onehot[row, ids] = 1
    occurrences = num_images * probs @ onehot
    counts = onehot.sum(0)
    assert occurrences[counts.argmax()] == pytest.approx(person, abs=0.5)
    rare = np.argsort(counts, kind='stable')[:3]
    assert np.round(occurrences[rare]).tolist() == list(rarest)


def test_draws_follow_the_distribution(ltml_dir):
    labels = read_labels(f'{ltml_dir}/voc/voc_lt_train.txt')
    probs = official_probs(labels, 20, 1.35)
    draws = 200_000
    sampler = OccurrenceWeightedSampler(ToyDataset(labels), power=1.35,
                                        num_samples=draws, seed=1)
    counts = Counter(sampler)
    freq = np.array([counts[i] for i in range(len(labels))]) / draws
    # binomial standard error per image, 5 sigma
    sigma = np.sqrt(probs * (1 - probs) / draws)
    assert np.all(np.abs(freq - probs) < 5 * sigma + 1e-12)


def test_seeded_per_epoch():
    ds = ToyDataset([[0], [1], [0, 2], [2], [1, 3], [0]] * 5)
    first = OccurrenceWeightedSampler(ds, power=1.0, seed=3)
    again = OccurrenceWeightedSampler(ds, power=1.0, seed=3)
    assert list(first) == list(again)
    epoch0 = list(first)
    first.set_epoch(1)
    again.set_epoch(1)
    assert list(first) == list(again) != epoch0
    assert list(OccurrenceWeightedSampler(ds, power=1.0, seed=4)) != epoch0


@pytest.mark.parametrize('round_up', [True, False])
def test_distributed_shards(monkeypatch, round_up):
    ds = ToyDataset([[c % 4] for c in range(41)])
    full = list(OccurrenceWeightedSampler(ds, power=1.0, seed=5,
                                          round_up=round_up))
    shards = []
    for rank in range(3):
        monkeypatch.setattr(epoch_sequence_sampler, 'get_dist_info',
                            lambda rank=rank: (rank, 3))
        sampler = OccurrenceWeightedSampler(ds, power=1.0, seed=5,
                                            round_up=round_up)
        shards.append(list(sampler))
        assert len(shards[-1]) == len(sampler)
    assert {len(s) for s in shards} == ({14} if round_up else {13})
    padded = (full + full)[:42] if round_up else full[:39]
    assert sum(shards, []) == padded


def test_build_unlabelled_images_and_errors():
    ds = ToyDataset([[0], [], [1], [0, 1]])
    sampler = DATA_SAMPLERS.build(
        dict(type='OccurrenceWeightedSampler', power=1.0, num_samples=50),
        default_args=dict(dataset=ds, seed=0))
    indices = list(sampler)
    assert len(indices) == 50 and 1 not in indices  # no labels: weight 0
    # power 0 is uniform sampling (0^0 = 1 for the unlabelled image too)
    uniform = OccurrenceWeightedSampler(ds, power=0.0, seed=0)
    np.testing.assert_allclose(uniform.probs, 0.25)
    no_repeat = OccurrenceWeightedSampler(ds, power=1.0, num_samples=3,
                                          replacement=False, seed=0)
    assert sorted(no_repeat) == [0, 2, 3]  # every labelled image once
    with pytest.raises(TypeError, match='get_cat_ids'):
        OccurrenceWeightedSampler(list(range(4)), power=1.0, seed=0)
    with pytest.raises(ValueError, match='no image has a label'):
        OccurrenceWeightedSampler(ToyDataset([[], []]), power=1.0, seed=0)
    with pytest.raises(ValueError, match='power'):
        OccurrenceWeightedSampler(ds, power=-1.0, seed=0)
    with pytest.raises(ValueError, match='without replacement'):
        OccurrenceWeightedSampler(ds, power=1.0, num_samples=4,
                                  replacement=False, seed=0)
