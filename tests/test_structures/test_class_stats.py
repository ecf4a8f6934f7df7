# Copyright (c) mmltml contributors. All rights reserved.
"""The framework-free statistics: counts, the group rule, validation."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

import mmltml.structures.class_stats as class_stats_module
from mmltml.datasets import VOC_LT_CLASSES, parse_list_file
from mmltml.structures import (check_class_stats, compute_class_stats,
                               format_class_stats, save_class_stats,
                               split_groups)
from tests.test_datasets.ltml_counts import VOC_TRAIN


def test_module_imports_no_framework():
    """Loaded on its own (not through the mmltml package, whose import
    registers the models), the module pulls in no torch / mmengine /
    mmpretrain, and computes."""
    code = (
        'import importlib.util, sys\n'
        f'spec = importlib.util.spec_from_file_location("cs", '
        f'{class_stats_module.__file__!r})\n'
        'cs = importlib.util.module_from_spec(spec)\n'
        'spec.loader.exec_module(cs)\n'
        'assert cs.compute_class_stats([[0], [0, 1]], 2)["class_freq"] '
        '== [2, 1]\n'
        'print(sorted(m for m in sys.modules if m.split(".")[0] in '
        '("torch", "mmengine", "mmpretrain", "mmcv", "mmltml")))\n')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True)
    assert out.stdout.strip() == '[]'


def test_compute_class_stats_small_and_empty_class():
    stats = compute_class_stats([[0, 1], [1], [1], []],
                                num_classes=3,
                                classes=['a', 'b', 'c'],
                                head_thr=3,
                                tail_thr=1)
    assert stats['class_freq'] == [1, 3, 0]
    assert stats['neg_class_freq'] == [3, 1, 4]
    assert stats['condition_prob'] == [[1.0, 1.0, 0.0], [1 / 3, 1.0, 0.0],
                                       [0.0, 0.0, 0.0]]
    assert stats['groups'] == dict(head=[1], medium=[0], tail=[2])
    assert stats['group_names'] == dict(head=['b'], medium=['a'], tail=['c'])
    assert stats['thresholds'] == dict(head=3, tail=1)
    with pytest.raises(ValueError, match='out of range'):
        compute_class_stats([[3]], num_classes=3)
    with pytest.raises(ValueError, match='class names'):
        compute_class_stats([[0]], num_classes=3, classes=['a'])
    with pytest.raises(ValueError, match='tail_thr'):
        compute_class_stats([[0]], num_classes=3, head_thr=5, tail_thr=10)
    with pytest.raises(ValueError, match='positive integer'):
        compute_class_stats([[0]], num_classes=True)


def test_condition_prob_against_brute_force(ltml_dir):
    _, labels = parse_list_file(
        osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'), 20)
    stats = compute_class_stats(labels, 20, VOC_LT_CLASSES)
    assert stats['class_freq'] == VOC_TRAIN
    cond = np.array(stats['condition_prob'])
    for i, j in [(14, 8), (8, 14), (9, 14), (15, 10), (3, 3)]:
        with_i = [ids for ids in labels if i in ids]
        expect = sum(j in ids for ids in with_i) / len(with_i)
        assert cond[i, j] == pytest.approx(expect)
    assert np.allclose(np.diag(cond), 1)


def test_split_groups_boundaries():
    """A class with n = head_thr is head, n = tail_thr medium, and the
    default thresholds are 100 / 20 (the LTML protocol)."""
    freq = [100, 99, 20, 19, 0, 1000]
    assert split_groups(freq) == dict(head=[0, 5], medium=[1, 2], tail=[3, 4])
    counts = np.array(freq)
    for head_thr, tail_thr in [(20, 20), (1, 0), (1001, 1001)]:
        groups = split_groups(freq, head_thr, tail_thr)
        assert groups['head'] == np.flatnonzero(counts >= head_thr).tolist()
        assert groups['tail'] == np.flatnonzero(counts < tail_thr).tolist()
        assert sorted(sum(groups.values(), [])) == list(range(len(freq)))
    with pytest.raises(ValueError, match='tail_thr <= head_thr'):
        split_groups(freq, head_thr=5, tail_thr=6)


def test_check_class_stats_fills_and_validates():
    stats = check_class_stats(dict(class_freq=[5, 2.0], neg_class_freq=[1, 4]),
                              head_thr=5,
                              tail_thr=3)
    assert stats['num_images'] == 6 and stats['class_freq'] == [5, 2]
    assert stats['groups'] == dict(head=[0], medium=[], tail=[1])
    assert stats['condition_prob'] is None and stats['classes'] is None
    source = dict(class_freq=[3, 1], num_images=4, groups='stale')
    assert check_class_stats(source)['groups'] == dict(
        head=[], medium=[], tail=[0, 1])
    assert source['groups'] == 'stale'  # the caller's dict is not changed
    cases = [
        (dict(class_freq=[1, -2]), '"class_freq" must hold non-negative'),
        (dict(class_freq=[1.5]), 'must hold non-negative integers'),
        (dict(class_freq=[]), 'non-empty 1-D'),
        (dict(class_freq=['a']), 'must be a list of non-negative'),
        (dict(class_freq=[5, 2], num_images=3), 'num_images=3 is below'),
        (dict(class_freq=[5, 2], num_classes=3), 'num_classes=3 but'),
        (dict(class_freq=[5, 2], neg_class_freq=[1, 1]), 'the same N'),
        (dict(class_freq=[5, 2], neg_class_freq=[1, 4], num_images=7),
         'disagrees'),
        (dict(class_freq=[5, 2], condition_prob=[[1.0]]), 'must be 2 x 2'),
        (dict(class_freq=[5, 2], classes=['a']), '1 class names'),
    ]
    for source, match in cases:
        with pytest.raises(ValueError, match=match) as err:
            check_class_stats(source, origin='my.json')
        if 'class names' not in match:
            assert str(err.value).startswith('my.json: ')


def test_save_and_format(tmp_path):
    stats = compute_class_stats([[0, 1], [1], [1], []], 3, ['a', 'b', 'c'],
                                head_thr=3,
                                tail_thr=1)
    path = str(tmp_path / 'sub' / 'stats.json')
    save_class_stats(stats, path)
    with open(path) as f:
        assert json.load(f) == stats
    table = format_class_stats(stats).splitlines()
    assert table[1].split() == ['head', 'n', '>=', '3', '1', '3', '3', '3']
    assert table[2].split() == [
        'medium', '1', '<=', 'n', '<', '3', '1', '1', '1', '1'
    ]
    assert table[3].split() == ['tail', 'n', '<', '1', '1', '0', '0', '0']
    assert table[4].split() == ['total', '3', '0', '3', '4']
    assert table[5] == 'images: 4'
