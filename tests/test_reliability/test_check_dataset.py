# Copyright (c) mmltml contributors. All rights reserved.
"""tools/misc/check_dataset.py reports every planted problem with its file
and line, prints the training class statistics and exits non-zero."""
import importlib.util
import os
import os.path as osp
import re

import pytest

from tests._tiny_setup import (REPO_ROOT, make_ltml_subset, make_tiny_project,
                               smoke_config)

TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'check_dataset.py')
TRAIN = 'data/voc/voc_lt_train.txt'
TEST = 'data/voc/voc_lt_test.txt'
CAPTIONS = 'data/voc/voc_lt_captions.txt'
EXTRA = 'VOCdevkit/VOC2012/JPEGImages/extra.jpg'


@pytest.fixture(scope='module')
def check_dataset():
    spec = importlib.util.spec_from_file_location('check_dataset', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workspace(tmp_path, ltml_dir, monkeypatch):
    make_ltml_subset(str(tmp_path), ltml_dir, 'voc')
    monkeypatch.chdir(tmp_path)
    cfg = smoke_config(str(tmp_path / 'cfg.py'),
                       'configs/lmpt/lmpt_vitb16_voc-lt.py')
    return tmp_path, cfg


def _lines(path):
    with open(path) as f:
        return f.read().splitlines()


def _write(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _plant_problems(root):
    """Eleven problems in the list, image and caption files."""
    train = _lines(TRAIN)
    images = [line.split()[0] for line in train]
    train[1] = f'{images[1]} 6 25'  # line 2: id out of range (20 classes)
    train[2] = f'{images[2]} 8 x'  # line 3: not an integer
    train.append(f'{images[0]} 3')  # line 15: duplicate of line 1
    train.append(EXTRA)  # line 16: no labels, no image, no caption
    _write(TRAIN, train)
    os.remove(osp.join('data/voc', images[3]))  # line 4: missing
    with open(osp.join('data/voc', images[4]), 'wb') as f:  # line 5
        f.write(b'garbage' * 20)
    test_image = osp.join('data/voc', _lines(TEST)[1].split()[0])
    with open(test_image, 'rb') as f:  # test line 2: truncated
        data = f.read()
    with open(test_image, 'wb') as f:
        f.write(data[:len(data) // 2])
    captions = _lines(CAPTIONS)
    assert len(captions) == 14
    captions.append('VOCdevkit/VOC2012/JPEGImages/nope.jpg a dog')  # 15
    captions.append(images[5])  # line 16: no caption text
    _write(CAPTIONS, captions)
    return images


def test_clean_dataset_passes(check_dataset, workspace, capsys):
    _, cfg = workspace
    assert check_dataset.main([cfg]) == 0
    out = capsys.readouterr().out
    assert '== test: same dataset as val, checked above ==' in out
    assert '== class statistics of the training split ==' in out
    assert 'images: 14' in out and 'no problems found' in out


def test_every_problem_is_reported(check_dataset, workspace, capsys):
    root, cfg = workspace
    images = _plant_problems(root)
    code = check_dataset.main(
        [cfg, '--cfg-options', 'data_preprocessor.num_classes=21'])
    out = capsys.readouterr().out
    assert code == 1
    summary = out[out.index('problem(s) =='):]
    expected = [
        f'{TRAIN}, line 2: label id 25 out of range for 20 classes',
        f"{TRAIN}, line 3: label id 'x' is not an integer",
        f"{TRAIN}, line 15: duplicate image '{images[0]}' (first on line 1)",
        f"{TRAIN}, line 16: training image '{EXTRA}' has no labels",
        f'{TRAIN}, line 4: image data/voc/{images[3]} does not exist',
        f'{TRAIN}, line 5: image data/voc/{images[4]} cannot be decoded',
        f'{TRAIN}, line 16: image data/voc/{EXTRA} does not exist',
        f'{TEST}, line 2: image data/voc/',
        f"{CAPTIONS}, line 15: caption for image "
        "'VOCdevkit/VOC2012/JPEGImages/nope.jpg', which is not in",
        f'{CAPTIONS}, line 16: expected "<image path> <caption>"',
        f"{CAPTIONS}: no caption for image '{EXTRA}'",
        'data_preprocessor.num_classes is 21, but the training dataset has '
        '20 classes',
        # the config's statistics are computed from the broken list file
        f'class_stats of the config: {root / TRAIN}, line 2: label id 25',
    ]
    for problem in expected:
        assert problem in summary, problem
    assert f'== {len(expected)} problem(s) ==' in out
    # statistics of the 13 usable training lines, despite the problems
    assert 'images: 13' in out
    # progress of each image scan, to its end
    assert len(re.findall(r'\b(\d+)/\1 images checked', out)) >= 2


def test_splits_option(check_dataset, workspace, capsys):
    root, cfg = workspace
    _plant_problems(root)
    assert check_dataset.main([cfg, '--splits', 'test']) == 1
    out = capsys.readouterr().out
    assert '== 1 problem(s) ==' in out and f'{TEST}, line 2' in out
    assert 'class statistics' not in out


def test_other_datasets_are_checked_too(check_dataset, tmp_path, capsys):
    # an mmpretrain MultiLabelDataset (JSON annotations): no line numbers
    cfg = make_tiny_project(str(tmp_path))
    os.remove(tmp_path / '003.png')
    (tmp_path / 'test' / '001.png').write_bytes(b'')
    assert check_dataset.main([cfg]) == 1
    out = capsys.readouterr().out
    assert '== 2 problem(s) ==' in out
    assert f'{tmp_path}/train.json: image {tmp_path}/003.png does not exist' \
        in out
    assert f'{tmp_path}/test.json: image {tmp_path}/test/001.png is empty' \
        in out
    assert 'images: 16' in out  # class statistics of the training split
