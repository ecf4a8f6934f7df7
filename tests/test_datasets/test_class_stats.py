# Copyright (c) mmltml contributors. All rights reserved.
import json
import os
import os.path as osp

import numpy as np
import pytest

from mmltml.datasets import (VOC_LT_CLASSES, compute_class_stats,
                             load_class_stats, parse_list_file,
                             save_class_stats)
from .ltml_counts import COCO_TEST, COCO_TRAIN, VOC_TEST, VOC_TRAIN


def _write(path, text: str) -> str:
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    return str(path)


def _ref(ltml_dir, name):
    labels = 'coco_labels.txt' if name == 'coco' else 'voc_labels.txt'
    return dict(
        ann_file=osp.join(ltml_dir, name, f'{name}_lt_train.txt'),
        label_file=osp.join(ltml_dir, name, labels))


def _counts(labels, num_classes):
    counts = np.zeros(num_classes, dtype=int)
    for ids in labels:
        counts[ids] += 1
    return counts.tolist()


def test_official_train_statistics(ltml_dir):
    coco = load_class_stats(_ref(ltml_dir, 'coco'), num_classes=80)
    voc = load_class_stats(_ref(ltml_dir, 'voc'), num_classes=20)
    assert coco['num_images'] == 1909 and voc['num_images'] == 1142
    assert coco['class_freq'] == COCO_TRAIN
    assert voc['class_freq'] == VOC_TRAIN
    assert sum(coco['class_freq']) == 8316 and sum(voc['class_freq']) == 2346
    assert (min(COCO_TRAIN), max(COCO_TRAIN)) == (6, 1128)
    assert [len(coco['groups'][g])
            for g in ('head', 'medium', 'tail')] == [22, 33, 25]
    assert [len(voc['groups'][g])
            for g in ('head', 'medium', 'tail')] == [6, 6, 8]
    assert 'backpack' in coco['group_names']['head']
    assert 'pottedplant' in voc['group_names']['head']
    assert 'motorbike' in voc['group_names']['medium']
    assert coco['neg_class_freq'][0] == 1909 - 1128


def test_official_test_lists(ltml_dir):
    paths, labels = parse_list_file(
        osp.join(ltml_dir, 'coco', 'coco_lt_test.txt'), 80)
    assert len(paths) == 5000 and sum(not ids for ids in labels) == 48
    assert _counts(labels, 80) == COCO_TEST
    paths, labels = parse_list_file(
        osp.join(ltml_dir, 'voc', 'voc_lt_test.txt'), 20)
    assert len(paths) == 4952 and all(labels)
    assert _counts(labels, 20) == VOC_TEST


def test_condition_prob_against_brute_force(ltml_dir):
    _, labels = parse_list_file(
        osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'), 20)
    stats = compute_class_stats(labels, 20, VOC_LT_CLASSES)
    cond = np.array(stats['condition_prob'])
    for i, j in [(14, 8), (8, 14), (9, 14), (15, 10), (3, 3)]:
        with_i = [ids for ids in labels if i in ids]
        expect = sum(j in ids for ids in with_i) / len(with_i)
        assert cond[i, j] == pytest.approx(expect)
    assert np.allclose(np.diag(cond), 1)


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


def test_parse_list_file_tolerance(tmp_path):
    path = _write(tmp_path / 'l.txt',
                  'a.jpg 1 0 \r\n\r\n  \nb.jpg 2\r\nc.jpg\nd.jpg 0  ')
    paths, labels = parse_list_file(path, 3)
    assert paths == ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg']
    assert labels == [[0, 1], [2], [], [0]]


@pytest.mark.parametrize('text, match', [
    ('a.jpg 0\nb.jpg x\n', 'line 2: label id \'x\' is not an integer'),
    ('a.jpg 0\nb.jpg 3\n', 'line 2: label id 3 out of range'),
    ('a.jpg 0\n\nb.jpg -1\n', 'line 3: negative label id'),
    ('a.jpg 0\nb.jpg 1\na.jpg 2\n', 'line 3: duplicate image .*line 1'),
    ('a.jpg 1 1\n', 'line 1: label id 1 repeated'),
])
def test_parse_list_file_errors(tmp_path, text, match):
    path = _write(tmp_path / 'bad_list.txt', text)
    with pytest.raises(ValueError, match=match) as err:
        parse_list_file(path, num_classes=3)
    assert 'bad_list.txt' in str(err.value)
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        parse_list_file(str(tmp_path / 'missing.txt'))


def test_save_load_roundtrip_and_dict_source(tmp_path, ltml_dir):
    stats = load_class_stats(_ref(ltml_dir, 'voc'))
    path = str(tmp_path / 'sub' / 'stats.json')
    save_class_stats(stats, path)
    assert load_class_stats(path) == stats
    with open(path) as f:
        assert json.load(f)['class_freq'] == VOC_TRAIN
    # a plain dict with class_freq: validated, derivable keys filled in
    small = load_class_stats(dict(class_freq=VOC_TRAIN, num_images=1142))
    assert small['neg_class_freq'] == stats['neg_class_freq']
    assert small['groups'] == stats['groups']
    assert small['condition_prob'] is None
    # thresholds passed in regroup the classes
    regrouped = load_class_stats(path, head_thr=200, tail_thr=10)
    assert len(regrouped['groups']['head']) == 4


def test_load_class_stats_errors(tmp_path, ltml_dir):
    with pytest.raises(ValueError, match='20 classes but 80'):
        load_class_stats(_ref(ltml_dir, 'voc'), num_classes=80)
    ref = dict(_ref(ltml_dir, 'voc'), num_classes=21)
    with pytest.raises(ValueError, match='num_classes=21'):
        load_class_stats(ref)
    with pytest.raises(FileNotFoundError, match='nothere.json'):
        load_class_stats(str(tmp_path / 'nothere.json'))
    bad = _write(tmp_path / 'bad.json', '{"class_freq": [1, 2,')
    with pytest.raises(ValueError, match='bad.json: malformed JSON'):
        load_class_stats(bad)
    nofreq = _write(tmp_path / 'nofreq.json', '{"x": 1}')
    with pytest.raises(ValueError, match='no "class_freq"'):
        load_class_stats(nofreq)
    with pytest.raises(ValueError, match='non-negative integers'):
        load_class_stats(dict(class_freq=[1, -2]))
    with pytest.raises(ValueError, match='num_images'):
        load_class_stats(dict(class_freq=[5, 2], num_images=3))
    with pytest.raises(ValueError, match='unknown keys'):
        load_class_stats(dict(ann_file='x.txt', labels='y.txt'))
    with pytest.raises(FileNotFoundError, match='missing_train.txt'):
        load_class_stats(
            dict(ann_file=str(tmp_path / 'missing_train.txt'), num_classes=3))
    with pytest.raises(TypeError):
        load_class_stats(dict(foo=1))


def test_list_reference_is_memoised_and_refreshed(tmp_path):
    path = _write(tmp_path / 'train.txt', 'a.jpg 0\nb.jpg 0 1\n')
    ref = dict(ann_file=path, num_classes=2)
    first = load_class_stats(ref)
    first['class_freq'][0] = 99  # callers get copies
    assert load_class_stats(ref)['class_freq'] == [2, 1]
    _write(tmp_path / 'train.txt', 'a.jpg 0\nb.jpg 1\nc.jpg 1\n')
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert load_class_stats(ref)['class_freq'] == [1, 2]
