# Copyright (c) mmltml contributors. All rights reserved.
"""tools/analysis_tools/fingerprint_configs.py: a fingerprint is
reproducible, and ``compare`` finds a changed number, a changed key and a
changed config, and maps renamed keys."""
import importlib.util
import json
import os.path as osp

import pytest

from tests._tiny_setup import REPO_ROOT

CONFIG = 'configs/synthetic/resnet18-w16_bce_synthetic.py'
# two builds, forwards and backwards of a ResNet at 224 px: ~40 s loaded
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                    'fingerprint_configs.py')
    spec = importlib.util.spec_from_file_location('fingerprint_configs',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def prints(tool, tmp_path_factory):
    out = tmp_path_factory.mktemp('fp')
    for name in ('a', 'b'):
        tool.fingerprint(REPO_ROOT, str(out / f'{name}.json'),
                         [osp.basename(CONFIG)], tiny_clip=True)
    return out


def _edit(path, change):
    with open(path) as f:
        data = json.load(f)
    change(data[CONFIG])
    with open(path, 'w') as f:
        json.dump(data, f)


def test_fingerprint_is_reproducible(tool, prints, capsys):
    with open(prints / 'a.json') as f:
        entry = json.load(f)[CONFIG]
    assert 'error' not in entry
    assert set(entry) == {'config', 'state', 'losses', 'grads', 'pred'}
    assert entry['config']['model']['head']['num_classes'] == 24
    assert 'loss' in entry['losses'] and entry['grads']
    assert tool.compare(str(prints / 'a.json'), str(prints / 'b.json'), [],
                        False, False) == 0
    assert 'identical' in capsys.readouterr().out


def test_compare_names_every_difference(tool, prints, capsys, tmp_path):
    changed = tmp_path / 'changed.json'
    changed.write_text((prints / 'b.json').read_text())

    def change(entry):
        entry['losses']['loss'] = float.hex(1.5)
        key = 'head.fc.weight'
        entry['state']['head.renamed.weight'] = entry['state'].pop(key)
        entry['config']['model']['head']['num_classes'] = 25

    _edit(changed, change)
    a = str(prints / 'a.json')
    assert tool.compare(a, str(changed), [], False, False) == 1
    out = capsys.readouterr().out
    assert '.losses.loss: ' in out and '-> \'0x1.8000000000000p+0\'' in out
    assert '.state.head.fc.weight: only before' in out
    assert '.state.head.renamed.weight: only after' in out
    assert 'config.model.head.num_classes: 24 -> 25' in out
    renames = [r'head\.fc\.weight=head.renamed.weight']
    assert tool.compare(a, str(changed), renames, True, False) == 1
    # the loss still differs
    out = capsys.readouterr().out
    assert 'state' not in out.split('Differences:')[1]
    assert 'num_classes' not in out.split('Differences:')[1]
