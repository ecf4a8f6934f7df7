# Copyright (c) mmltml contributors. All rights reserved.
"""load_class_stats: the sources of a config's class statistics and the
memo of the list-file ones."""
import json
import os
import os.path as osp

import pytest

import mmltml.datasets.class_stats as sources
from mmltml.datasets import load_class_stats, save_class_stats
from .ltml_counts import COCO_TRAIN, VOC_TRAIN


def _write(path, text: str) -> str:
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    return str(path)


def _ref(ltml_dir, name):
    labels = 'coco_labels.txt' if name == 'coco' else 'voc_labels.txt'
    return dict(
        ann_file=osp.join(ltml_dir, name, f'{name}_lt_train.txt'),
        label_file=osp.join(ltml_dir, name, labels))


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


@pytest.fixture
def reads(monkeypatch):
    """The list files read by load_class_stats, in order."""
    paths = []

    def counting(path, *args):
        paths.append(path)
        return read(path, *args)

    read = sources.read_list_file
    monkeypatch.setattr(sources, 'read_list_file', counting)
    return paths


def test_list_reference_is_memoised_and_copied(tmp_path, reads):
    path = _write(tmp_path / 'train.txt', 'a.jpg 0\nb.jpg 0 1\n')
    first = load_class_stats(dict(ann_file=path, num_classes=2))
    first['class_freq'][0] = 99  # callers get deep copies
    first['condition_prob'][0][1] = 99.0
    first['groups']['tail'].append(7)
    again = load_class_stats(
        dict(ann_file='train.txt', data_root=str(tmp_path), num_classes=2))
    assert again['class_freq'] == [2, 1]
    assert again['condition_prob'] == [[1.0, 0.5], [1.0, 1.0]]
    assert again['groups']['tail'] == [0, 1]
    assert reads == [path]  # the relative reference is the same file
    regrouped = load_class_stats(
        dict(ann_file=path, num_classes=2, head_thr=2, tail_thr=1))
    assert regrouped['groups'] == dict(head=[0], medium=[1], tail=[])
    assert len(reads) == 2  # other thresholds, another entry


def test_changed_files_are_read_again(tmp_path, reads):
    path = _write(tmp_path / 'train.txt', 'a.jpg 0\nb.jpg 0 1\n')
    labels = _write(tmp_path / 'labels.txt', 'cat 0\ndog 1\n')
    ref = dict(ann_file=path, label_file=labels)
    assert load_class_stats(ref)['class_freq'] == [2, 1]
    # another size, even within the file system's time resolution
    _write(tmp_path / 'train.txt', 'a.jpg 0\nb.jpg 1\nc.jpg 1\n')
    assert load_class_stats(ref)['class_freq'] == [1, 2]
    # the same size, a later modification time
    _write(tmp_path / 'train.txt', 'a.jpg 1\nb.jpg 1\nc.jpg 1\n')
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert load_class_stats(ref)['class_freq'] == [0, 3]
    assert len(reads) == 3
    _write(tmp_path / 'labels.txt', 'cow 0\nhorse 1\n')  # the label file too
    assert load_class_stats(ref)['group_names']['tail'] == ['cow', 'horse']
    assert len(reads) == 4


def test_memo_is_bounded(tmp_path, reads):
    refs = [
        dict(
            ann_file=_write(tmp_path / f'{i}.txt', f'a.jpg {i % 2}\n'),
            num_classes=2) for i in range(sources.CACHE_SIZE + 1)
    ]
    for ref in refs:
        load_class_stats(ref)
    load_class_stats(refs[-1])  # kept
    assert len(reads) == len(refs)
    load_class_stats(refs[0])  # the least recently used: dropped
    assert len(reads) == len(refs) + 1 and reads[-1] == refs[0]['ann_file']
