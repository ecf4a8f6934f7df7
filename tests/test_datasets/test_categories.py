# Copyright (c) mmltml contributors. All rights reserved.
import os.path as osp

import pytest

from mmltml.datasets import (COCO_LT_CLASSES, VOC_LT_CLASSES, get_class_names,
                             read_label_file)


def _write(path, text: str, newline: str = '\n') -> str:
    with open(path, 'w', encoding='utf-8', newline=newline) as f:
        f.write(text)
    return str(path)


def test_presets_match_official_label_files(ltml_dir):
    coco = read_label_file(osp.join(ltml_dir, 'coco', 'coco_labels.txt'))
    voc = read_label_file(osp.join(ltml_dir, 'voc', 'voc_labels.txt'))
    assert coco == list(COCO_LT_CLASSES)
    assert voc == list(VOC_LT_CLASSES)
    assert len(coco) == 80 and len(voc) == 20
    assert coco[9] == 'traffic light' and coco[78] == 'hair drier'
    assert voc[0] == 'aeroplane' and voc[-1] == 'tvmonitor'


def test_get_class_names_specs(ltml_dir):
    assert get_class_names('coco-lt') == list(COCO_LT_CLASSES)
    assert get_class_names('VOC_LT') == list(VOC_LT_CLASSES)
    assert get_class_names(('a', 'b c')) == ['a', 'b c']
    path = osp.join(ltml_dir, 'voc', 'voc_labels.txt')
    assert get_class_names(path) == list(VOC_LT_CLASSES)
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        get_class_names('nope.txt')
    with pytest.raises(ValueError, match='duplicate'):
        get_class_names(['a', 'a'])
    with pytest.raises(TypeError):
        get_class_names(3)


def test_label_file_tolerates_crlf_spaces_any_order(tmp_path):
    path = _write(
        tmp_path / 'l.txt',
        'hair drier 1 \r\n\r\ntraffic light 0\r\nzebra 2',
        newline='')
    assert read_label_file(path) == ['traffic light', 'hair drier', 'zebra']


@pytest.mark.parametrize('text, match', [
    ('cat 0\ndog\n', 'line 2'),
    ('cat 0\ndog x\n', 'line 2'),
    ('cat 0\ndog 0\n', 'line 2: duplicate class index 0'),
    ('cat 0\ncat 1\n', 'line 2: duplicate class name'),
    ('cat 0\ndog 2\n', 'contiguous'),
    ('cat -1\n', 'negative'),
    ('\n\n', 'no classes'),
])
def test_label_file_errors_name_file_and_line(tmp_path, text, match):
    path = _write(tmp_path / 'bad_labels.txt', text)
    with pytest.raises(ValueError, match=match) as err:
        read_label_file(path)
    assert 'bad_labels.txt' in str(err.value)
