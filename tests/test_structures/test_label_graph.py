# Copyright (c) mmltml contributors. All rights reserved.
"""Label graphs against transcriptions of the official constructions.

* ``mlgcn_official``: ML-GCN's ``gen_A`` (numpy, from the co-occurrence
  counts with zero diagonal and the class counts, ``util.py:291-301``) and
  ``gen_adj`` (torch float32, ``models.py:44-50``), fed with counts this
  test reads from the official training lists itself;
* ``ltgcn_official``: LT-GCN's relation processing (``model.py:196-213``)
  in torch.

The graph statistics of ref-labelgcn.md §1.1 (edges, hub in-degrees) are
checked on the official splits too.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmltml.structures.label_graph as label_graph_module
from mmltml.datasets import load_class_stats
from mmltml.structures import (compute_class_stats, cooccurrence_counts,
                               mlgcn_adjacency, similarity_adjacency,
                               text_similarity_adjacency)
from tests._tiny_setup import REPO_ROOT

NUM_CLASSES = {'coco': 80, 'voc': 20}


def read_train_labels(path):
    """Label ids of each line of an official list file, read here."""
    labels = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts:
                labels.append([int(v) for v in parts[1:]])
    return labels


def mlgcn_official(labels, num_classes, t=0.4, p=0.25):
    """gen_A from counts (``adj`` diagonal 0, ``nums``), then gen_adj."""
    adj = np.zeros((num_classes, num_classes))
    nums = np.zeros(num_classes)
    for ids in labels:
        for i in set(ids):
            nums[i] += 1
            for j in set(ids):
                if j != i:
                    adj[i, j] += 1
    _adj = adj / nums[:, np.newaxis]
    _adj[_adj < t] = 0
    _adj[_adj >= t] = 1
    _adj = _adj * p / (_adj.sum(0, keepdims=True) + 1e-6)
    _adj = _adj + np.identity(num_classes, int)
    a = torch.from_numpy(_adj).float()
    d = torch.pow(a.sum(1).float(), -0.5)
    d = torch.diag(d)
    return torch.matmul(torch.matmul(a, d).t(), d).numpy()


def ltgcn_official(relation, topk, p, temperature):
    relation = torch.tensor(relation, dtype=torch.float32)
    num_classes = relation.shape[0]
    _, max_idx = torch.topk(relation, topk)
    mask = torch.ones_like(relation).bool()
    for i, idx in enumerate(max_idx):
        mask[i][idx] = False
    relation[mask] = 0
    diag = torch.eye(num_classes).bool()
    relation[diag] = 0
    relation = relation / relation.sum(1).reshape(-1, 1) * p
    relation[diag] = 1 - p
    gcn = relation.clone()
    relation = torch.exp(relation / temperature) / torch.exp(
        relation / temperature).sum(1).reshape(-1, 1)
    relation[mask] = 0
    relation = relation / relation.sum(1).reshape(-1, 1)
    return gcn.numpy(), relation.numpy()


def official_stats(ltml_dir, ds):
    folder = osp.join(ltml_dir, ds)
    return load_class_stats(
        dict(ann_file=osp.join(folder, f'{ds}_lt_train.txt'),
             label_file=osp.join(folder, f'{ds}_labels.txt')))


def test_module_imports_no_framework():
    """The graph module (and the statistics it reads) load without torch,
    mmengine or mmpretrain (the packages above it are stubbed so that
    their ``__init__`` does not run)."""
    structures = osp.dirname(label_graph_module.__file__)
    code = (
        'import sys, types\n'
        'for name, path in (("mmltml", None), ("mmltml.structures", '
        f'{structures!r})):\n'
        '    module = types.ModuleType(name)\n'
        '    module.__path__ = [path] if path else []\n'
        '    sys.modules[name] = module\n'
        'from mmltml.structures import label_graph as lg\n'
        'from mmltml.structures import class_stats as cs\n'
        'stats = cs.compute_class_stats([[0, 1], [1]], 2)\n'
        'assert lg.mlgcn_adjacency(stats).shape == (2, 2)\n'
        'print(sorted(m for m in sys.modules if m.split(".")[0] in '
        '("torch", "mmengine", "mmpretrain", "mmcv")))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == '[]'


@pytest.mark.parametrize('ds', ['voc', 'coco'])
def test_mlgcn_equals_official_on_the_lt_splits(ltml_dir, ds):
    labels = read_train_labels(osp.join(ltml_dir, ds, f'{ds}_lt_train.txt'))
    expected = mlgcn_official(labels, NUM_CLASSES[ds])
    got = mlgcn_adjacency(official_stats(ltml_dir, ds))
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # other settings too
    expected = mlgcn_official(labels, NUM_CLASSES[ds], t=0.2, p=0.5)
    got = mlgcn_adjacency(official_stats(ltml_dir, ds), 0.2, 0.5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize('ds,edges,sources,hubs', [
    ('voc', 29, 19, [('person', 19), ('chair', 6), ('car', 2)]),
    ('coco', 205, 78, [('person', 63), ('dining table', 25), ('chair', 20)]),
])
def test_graph_is_the_notes_person_star(ltml_dir, ds, edges, sources, hubs):
    """ref-labelgcn §1.1: directed edges, classes with an edge, in-degrees
    of the three hubs (tau = 0.4)."""
    stats = official_stats(ltml_dir, ds)
    graph = mlgcn_adjacency(stats)
    # edge i -> j (P(j | i) >= tau) is the entry (j, i) of D^-1/2 A^T D^-1/2
    binary = graph.T > 0
    np.fill_diagonal(binary, False)
    assert binary.sum() == edges
    assert binary.any(1).sum() == sources
    in_degree = binary.sum(0)
    top = np.argsort(-in_degree, kind='stable')[:3]
    assert [(stats['classes'][i], in_degree[i]) for i in top] == hubs


def test_graph_uses_the_training_split_only(ltml_dir, tmp_path, monkeypatch):
    """The VOC-LT dataset config's class statistics give the same graph
    after its test list is rewritten, and another graph after its training
    list changes."""
    shutil.copytree(osp.join(ltml_dir, 'voc'), tmp_path / 'data' / 'voc')
    for path in (tmp_path / 'data' / 'voc').iterdir():
        os.chmod(path, 0o644)
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'voc-lt_resnet-224.py'))
    source = cfg.class_stats.to_dict()
    before = mlgcn_adjacency(load_class_stats(source))
    test_list = tmp_path / 'data' / 'voc' / 'voc_lt_test.txt'
    lines = test_list.read_text().splitlines()
    # every test image labelled with all 20 classes, half of them dropped
    test_list.write_text('\n'.join(
        f'{line.split()[0]} ' + ' '.join(map(str, range(20)))
        for line in lines[::2]) + '\n')
    np.testing.assert_array_equal(mlgcn_adjacency(load_class_stats(source)),
                                  before)
    train_list = tmp_path / 'data' / 'voc' / 'voc_lt_train.txt'
    train = train_list.read_text().splitlines()
    # cow (9) added to every person (14) image: P(cow | person) = 1
    train_list.write_text('\n'.join(
        line + ' 9' if '14' in line.split()[1:] and '9' not in line.split()
        else line for line in train) + '\n')
    assert not np.array_equal(mlgcn_adjacency(load_class_stats(source)),
                              before)


def test_zero_count_class_and_missing_cooccurrence():
    stats = compute_class_stats([[0, 1], [0, 1], [1]], 3)
    graph = mlgcn_adjacency(stats)
    assert np.isfinite(graph).all()
    # class 2 has no image: only its self-loop, normalised to 1
    assert graph[2, 2] == pytest.approx(1.0)
    assert graph[2, :2].tolist() == [0, 0] and graph[:2, 2].tolist() == [0, 0]
    with pytest.raises(ValueError, match='no condition_prob'):
        mlgcn_adjacency(dict(class_freq=[2, 3]))
    with pytest.raises(ValueError, match='threshold'):
        mlgcn_adjacency(stats, threshold=0)


def test_cooccurrence_counts_brute_force(ltml_dir):
    labels = read_train_labels(osp.join(ltml_dir, 'coco',
                                        'coco_lt_train.txt'))
    counts = cooccurrence_counts(official_stats(ltml_dir, 'coco'))
    for i, j in [(0, 0), (0, 60), (60, 0), (56, 60), (21, 22), (78, 0)]:
        assert counts[i, j] == sum(i in ids and j in ids for ids in labels)
    assert (counts == counts.T).all()


@pytest.mark.parametrize('topk,p,temperature', [(20, 0.2, 0.3),
                                                (12, 0.2, 0.3),
                                                (5, 0.5, 0.2),
                                                (20, 0.0, 0.2)])
def test_text_similarity_equals_lt_gcn(topk, p, temperature):
    rng = np.random.default_rng(0)
    # CLIP-like text embeddings: a shared direction plus class parts, so
    # that the cosines are positive (0.5-0.95) as in the shipped matrices
    feats = rng.normal(size=(20, 64)) + 3 * rng.normal(size=(1, 64))
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    expected_gcn, expected_rel = ltgcn_official(unit @ unit.T, topk, p,
                                                temperature)
    graph = text_similarity_adjacency(feats, topk, p, temperature)
    np.testing.assert_allclose(graph.adjacency, expected_gcn, atol=1e-6)
    np.testing.assert_allclose(graph.relation, expected_rel, atol=1e-6)
    np.testing.assert_allclose(graph.adjacency.sum(1), 1, atol=1e-6)
    np.testing.assert_allclose(np.diag(graph.adjacency), 1 - p, atol=1e-7)
    kept = (graph.adjacency > 0).sum(1)
    assert (kept == (topk if p > 0 else 1)).all()


def test_lt_gcn_configs():
    """VOC-LT (k = C, p = 0.2): 0.8 on the diagonal, nearly uniform
    neighbours; COCO-LT (p = 0): the identity."""
    rng = np.random.default_rng(1)
    sim = rng.uniform(0.71, 0.93, (20, 20))
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1)
    voc = similarity_adjacency(sim, topk=20, reweight=0.2).adjacency
    off = voc[~np.eye(20, dtype=bool)]
    assert off.min() > 0.2 / 19 * 0.71 / 0.93 and off.max() < 0.2 / 19 * 1.4
    coco = similarity_adjacency(sim, topk=20, reweight=0.0)
    np.testing.assert_array_equal(coco.adjacency, np.eye(20))
    assert coco.relation is None


def test_text_similarity_errors():
    feats = np.eye(3)
    with pytest.raises(ValueError, match='no neighbour'):
        text_similarity_adjacency(feats, topk=3, reweight=0.2)
    with pytest.raises(ValueError, match='topk'):
        similarity_adjacency(np.ones((3, 3)), topk=4)
    with pytest.raises(ValueError, match='all-zero'):
        text_similarity_adjacency(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r'\(C, C\)'):
        similarity_adjacency(np.ones((2, 3)))
    assert np.array_equal(
        text_similarity_adjacency(feats, reweight=0.0).adjacency, np.eye(3))
