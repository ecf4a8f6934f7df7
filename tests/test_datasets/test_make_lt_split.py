# Copyright (c) mmltml contributors. All rights reserved.
"""tools/dataset_converters/make_lt_split.py: a long-tailed subset of a
"full" list file (here the official COCO-LT training list) follows the
DB-loss Pareto curve, is refused for classes that cannot serve it, and is
byte-identical for one seed."""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mmltml.datasets import load_class_stats
from mmltml.structures.lt_split import (draw_lt_subset, pareto_targets,
                                        rank_classes)
from .ltml_counts import COCO_TRAIN
from .test_converters import _tool


def _pareto_curve(num_classes, max_count, min_count=1, shape=6, q=0.99):
    """The DB script's curve written with scipy's Pareto distribution."""
    dist = scipy_stats.pareto(shape)
    density = dist.pdf(np.linspace(dist.ppf(0), dist.ppf(q), num_classes))
    return (density / density.max() * (max_count - min_count) +
            min_count).astype(int)


def test_pareto_targets_are_the_db_curves():
    # ref-dbloss.md §2.1: COCO (80 classes, 1200 .. 1) and VOC (20, 800 .. 1)
    coco, voc = pareto_targets(80, 1200), pareto_targets(20, 800)
    assert coco[:3].tolist() == [1200, 1084, 981]
    assert coco[-2:].tolist() == [6, 6]
    assert voc[:3].tolist() == [800, 529, 359]
    assert voc[-2:].tolist() == [5, 4]
    for args in ((80, 1200), (81, 500, 2), (24, 400, 4, 4.0, 0.95)):
        assert pareto_targets(*args).tolist() == _pareto_curve(*args).tolist()
    with pytest.raises(ValueError, match='min_count <= max_count'):
        pareto_targets(10, 5, 6)


def test_rank_classes_by_frequency_and_cooccurrence():
    # 3 classes: freq (2, 3, 1); class 2 always co-occurs with 0 and 1
    labels = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 0]])
    assert rank_classes(labels).tolist() == [1, 0, 2]
    # sum_i P(j | i), i != j: class 0: P(0|1) + P(0|2) = 2/3 + 1 = 5/3;
    # class 1: 2/2 + 1 = 2; class 2: 1/2 + 1/3 = 5/6
    assert rank_classes(labels, 'cooccurrence').tolist() == [1, 0, 2]
    labels = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]])
    # equal frequencies; P(2|0) = P(2|1) = 1/2, P(0|2) = P(1|2) = 1/2
    assert rank_classes(labels, 'cooccurrence').tolist() == [2, 0, 1]
    assert rank_classes(labels).tolist() == [0, 1, 2]  # ties: index


def _counts(path, num_classes):
    """Per-class image counts of a list file, counted here."""
    counts = np.zeros(num_classes, dtype=int)
    with open(path) as f:
        for line in f:
            for tok in line.split()[1:]:
                counts[int(tok)] += 1
    return counts


def _run(ltml_dir, out, *extra):
    coco = osp.join(ltml_dir, 'coco')
    _tool('make_lt_split').main([
        osp.join(coco, 'coco_lt_train.txt'), '--labels',
        osp.join(coco, 'coco_labels.txt'), '--captions',
        osp.join(coco, 'coco_lt_captions.txt'), '--out-dir', str(out),
        '--prefix', 'sub', '--max-count', '300', *extra])
    return {name: (out / name).read_bytes() for name in os.listdir(out)}


def test_subset_of_coco_lt_follows_the_curve(ltml_dir, tmp_path, capsys):
    files = _run(ltml_dir, tmp_path / 'a')
    printed = capsys.readouterr().out
    # targets: the curve, the largest target to the most frequent class of
    # the full list (official counts; ties to the lower index)
    ranked = sorted(range(80), key=lambda c: (-COCO_TRAIN[c], c))
    targets = np.zeros(80, dtype=int)
    targets[ranked] = _pareto_curve(80, 300)
    counts = _counts(tmp_path / 'a' / 'sub_train.txt', 80)
    deviation = np.abs(counts - targets)
    close = deviation <= np.maximum(2, 0.1 * targets)
    assert close.sum() >= 76, [(c, targets[c], counts[c])
                               for c in np.flatnonzero(~close)]
    assert deviation.sum() <= 0.05 * targets.sum()
    order = np.argsort(np.argsort(-counts, kind='stable'))
    rho = np.corrcoef(order, np.argsort(np.argsort(-targets,
                                                   kind='stable')))[0, 1]
    assert rho > 0.98
    # every line comes from the full list unchanged (labels included) and
    # every image has its own caption
    full = {}
    with open(osp.join(ltml_dir, 'coco', 'coco_lt_train.txt')) as f:
        for line in f:
            path, *ids = line.split()
            full[path] = sorted(map(int, ids))
    lines = files['sub_train.txt'].decode().splitlines()
    assert len(set(lines)) == len(lines) < 1909
    for line in lines:
        path, *ids = line.split()
        assert full[path] == [int(i) for i in ids]
    captions = files['sub_captions.txt'].decode().splitlines()
    assert [c.split()[0] for c in captions] == [ln.split()[0] for ln in lines]
    # statistics, groups and the description agree with the list
    stats = load_class_stats(str(tmp_path / 'a' / 'sub_class_stats.json'))
    assert stats['class_freq'] == counts.tolist()
    groups = json.loads(files['sub_groups.json'])
    assert {g['index'] for g in groups['head']} == {
        c for c in range(80) if counts[c] >= 100}
    split = json.loads(files['sub_split.json'])
    assert split['parameters']['seed'] == 0
    assert split['source']['list_sha256'] == hashlib.sha256(
        open(osp.join(ltml_dir, 'coco', 'coco_lt_train.txt'),
             'rb').read()).hexdigest()
    assert [(c['index'], c['target'], c['count'])
            for c in split['classes']] == [
                (c, targets[c], counts[c]) for c in ranked]
    # the manifest lists every other file with its sha256
    manifest = dict(line.split('  ')[::-1] for line in
                    files['sub_sha256.txt'].decode().splitlines())
    assert set(manifest) == set(files) - {'sub_sha256.txt'}
    for name, digest in manifest.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    # the printed curve: one row per rank, then the summary
    rows = printed.splitlines()
    assert rows[1].split() == ['1', 'person', '1128', '300',
                               str(counts[0]), f'{counts[0] - 300:+d}']
    assert f'{len(lines)} images' in printed


def test_one_seed_byte_identical_two_seeds_differ(ltml_dir, tmp_path):
    first = _run(ltml_dir, tmp_path / 'a', '--seed', '3')
    again = _run(ltml_dir, tmp_path / 'b', '--seed', '3')
    other = _run(ltml_dir, tmp_path / 'c', '--seed', '4')
    assert first == again
    assert first['sub_train.txt'] != other['sub_train.txt']
    assert first['sub_sha256.txt'] != other['sub_sha256.txt']


def test_refuses_a_class_with_too_few_images(ltml_dir, tmp_path):
    # the curve's head (1200) is above person's 1128 COCO-LT images
    coco = osp.join(ltml_dir, 'coco')
    with pytest.raises(ValueError) as error:
        _tool('make_lt_split').main([
            osp.join(coco, 'coco_lt_train.txt'), '--labels', 'coco-lt',
            '--out-dir', str(tmp_path), '--max-count', '1200'])
    message = str(error.value)
    assert "class 'person' (index 0, rank 1): 1128 images, target 1200" in (
        message)
    assert 'coco_lt_train.txt' in message
    assert not os.listdir(tmp_path)  # nothing written


def test_draw_needs_targets_it_can_meet():
    labels = np.array([[1, 0], [1, 1], [0, 1]])
    subset = draw_lt_subset(labels, [2, 1], seed=0)
    # class 1 co-occurs: {row 0, row 1} is the only exact answer
    assert subset.indices.tolist() == [0, 1]
    assert subset.counts.tolist() == [2, 1]
    with pytest.raises(ValueError, match=r'classes \[1\] have fewer'):
        draw_lt_subset(labels, [1, 3], seed=0)


def test_captions_must_cover_the_subset(tmp_path):
    (tmp_path / 'full.txt').write_text('a.jpg 0\nb.jpg 0 1\nc.jpg 1\n')
    (tmp_path / 'caps.txt').write_text('a.jpg an a\nc.jpg a c\n')
    (tmp_path / 'l.txt').write_text('a 0\nb 1\n')
    with pytest.raises(ValueError, match=r"caps.txt: no caption for image "
                       r"'b.jpg'"):
        _tool('make_lt_split').main([
            str(tmp_path / 'full.txt'), '--labels', str(tmp_path / 'l.txt'),
            '--out-dir', str(tmp_path / 'out'), '--captions',
            str(tmp_path / 'caps.txt'), '--max-count', '2'])
    assert not (tmp_path / 'out').exists()
