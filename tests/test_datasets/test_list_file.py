# Copyright (c) mmltml contributors. All rights reserved.
"""The list-file reader: the official test lists, tolerance, errors."""
import os.path as osp

import numpy as np
import pytest

from mmltml.datasets import parse_list_file
from .ltml_counts import COCO_TEST, VOC_TEST


def _write(path, text: str) -> str:
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    return str(path)


def _counts(labels, num_classes):
    counts = np.zeros(num_classes, dtype=int)
    for ids in labels:
        counts[ids] += 1
    return counts.tolist()


def test_official_test_lists(ltml_dir):
    paths, labels = parse_list_file(
        osp.join(ltml_dir, 'coco', 'coco_lt_test.txt'), 80)
    assert len(paths) == 5000 and sum(not ids for ids in labels) == 48
    assert _counts(labels, 80) == COCO_TEST
    paths, labels = parse_list_file(
        osp.join(ltml_dir, 'voc', 'voc_lt_test.txt'), 20)
    assert len(paths) == 4952 and all(labels)
    assert _counts(labels, 20) == VOC_TEST


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
