# Copyright (c) mmltml contributors. All rights reserved.
"""A byte that is not UTF-8 in a label, list or caption file is named
with its file and line, by ``tools/misc/check_dataset.py`` and by
``tools/train.py``.

Before, both printed Python's "'utf-8' codec can't decode byte 0xe9 in
position 44", which names neither. The checker still checks every other
line (the faulty one is left out), and reports nothing else.
"""
import importlib.util
import os.path as osp
import runpy
import sys

import pytest

from tests._tiny_setup import REPO_ROOT
from tests.test_reliability._synthetic import BENCHMARK, copy_workspace

TOOLS = osp.join(REPO_ROOT, 'tools')
LMPT = 'configs/synthetic/lmpt_tinyclip_synthetic.py'


@pytest.fixture(scope='module')
def check_dataset():
    spec = importlib.util.spec_from_file_location(
        'check_dataset', osp.join(TOOLS, 'misc', 'check_dataset.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _latin1_line(path: str, lineno: int) -> str:
    """Put 'é' in Latin-1 (0xe9) into the first word of line ``lineno``;
    return the word."""
    with open(path, 'rb') as f:
        lines = f.read().split(b'\n')
    word = lines[lineno - 1].split(b' ')[0]
    lines[lineno - 1] = b'\xe9' + lines[lineno - 1]
    with open(path, 'wb') as f:
        f.write(b'\n'.join(lines))
    return word.decode()


def _problems(out: str) -> list:
    return [line.split('PROBLEM ', 1)[1] for line in out.splitlines()
            if 'PROBLEM ' in line]


@pytest.mark.parametrize('name,lineno,kind', [
    ('labels.txt', 4, 'label'),
    ('train.txt', 7, 'list'),
    ('captions.txt', 10, 'caption'),
])
def test_the_file_and_line_are_named(check_dataset, synthetic_root,
                                     tmp_path, monkeypatch, capsys, name,
                                     lineno, kind):
    root = copy_workspace(synthetic_root, str(tmp_path / 'ws'))
    monkeypatch.chdir(root)
    path = osp.join(BENCHMARK, name)
    word = _latin1_line(path, lineno)
    message = (f'{path}, line {lineno}: not UTF-8 text (byte 0xe9 at byte '
               f'1 of the line: ')
    advice = f'save the {kind} file as UTF-8'

    assert check_dataset.main([LMPT, '--splits', 'train']) == 1
    problems = _problems(capsys.readouterr().out)
    assert any(message in p and advice in p for p in problems), problems
    # nothing else: every other line was read and checked; what follows
    # from the line left out is reported as such
    train_list = osp.join(BENCHMARK, 'train.txt')
    also = {
        'labels.txt': [],  # the dataset cannot be built without classes
        'train.txt': [
            f"caption for image '{word}', which is not in {train_list}",
            'class_stats of the config: '],  # from the same list file
        'captions.txt': [f"no caption for image '{word}' of {train_list}"],
    }[name]
    assert len(problems) == 1 + len(also), problems
    for text in also:
        assert any(text in p for p in problems), problems

    monkeypatch.setattr(sys, 'argv', [
        'train.py', LMPT, '--work-dir', str(tmp_path / 'work'),
        '--cfg-options', 'train_cfg.max_epochs=1'])
    with pytest.raises(ValueError) as error:
        runpy.run_path(osp.join(TOOLS, 'train.py'), run_name='__main__')
    assert message in str(error.value) and advice in str(error.value)
