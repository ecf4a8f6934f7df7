# Copyright (c) mmltml contributors. All rights reserved.
"""A checkpoint whose unpickling would run code is refused by every entry
point that loads checkpoints: our tools (test, --resume, load_from),
mmpretrain's ``get_model`` and our inferencer. Each test checks that the
command the pickle carries did not run."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch

from tests._tiny_setup import REPO_ROOT, make_tiny_project

TOOLS = osp.join(REPO_ROOT, 'tools')


class _RunsCode:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('tiny'))
    return root, make_tiny_project(root)


@pytest.fixture
def evil(tmp_path):
    """An mmengine-shaped checkpoint with a code-running object inside."""
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=_RunsCode(marker)), path)
    return path, marker


def _tool(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _assert_refused(proc, marker, name):
    assert proc.returncode != 0
    assert f'Checkpoint {name}' in proc.stderr, proc.stderr[-3000:]
    assert 'checkpoint_safe_globals' in proc.stderr
    assert not osp.exists(marker)


def test_tools_test_refuses(project, evil, tmp_path):
    root, cfg = project
    path, marker = evil
    proc = _tool([osp.join(TOOLS, 'test.py'), cfg, path, '--work-dir',
                  str(tmp_path / 'w')], root)
    _assert_refused(proc, marker, path)


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_tools_train_refuses(project, evil, tmp_path, how):
    root, cfg = project
    path, marker = evil
    args = ['--resume', path] if how == 'resume' else [
        '--cfg-options', f'load_from={path}']
    proc = _tool([osp.join(TOOLS, 'train.py'), cfg, '--work-dir',
                  str(tmp_path / 'w')] + args, root)
    _assert_refused(proc, marker, path)


def test_get_model_refuses(project, evil):
    from mmpretrain import get_model
    path, marker = evil
    with pytest.raises(pickle.UnpicklingError, match='system'):
        get_model(project[1], pretrained=path)
    assert not osp.exists(marker)


def test_inferencer_refuses(project, evil):
    from mmltml.apis import MultiLabelInferencer
    path, marker = evil
    with pytest.raises(pickle.UnpicklingError, match='system'):
        MultiLabelInferencer(project[1], pretrained=path, device='cpu')
    assert not osp.exists(marker)
