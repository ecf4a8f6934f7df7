# Copyright (c) mmltml contributors. All rights reserved.
"""Shared fixtures: paths to the repository and the official LT split files.

The official COCO-LT / VOC-LT list and caption files are not part of the
repository; tests read them from ``../shared/data/ltml`` beside the checkout
(override with ``MMLTML_LTML_DIR``).
"""
import os
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LTML_DIR = os.environ.get(
    'MMLTML_LTML_DIR', osp.join(osp.dirname(REPO_ROOT), 'shared', 'data',
                                'ltml'))


@pytest.fixture(scope='session', autouse=True)
def _one_thread():
    """One torch thread per process (the tools' subprocesses inherit
    ``OMP_NUM_THREADS=1``): the tests' tiny models are dominated by thread
    synchronisation, so one thread is several times faster on 2 cores, and
    the thread count changes results bitwise (summation order), so runs
    that are compared must share it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OMP_NUM_THREADS', '1')
        yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Each test starts with mmengine's default scope as the previous test
    found it: a Runner (or ``DefaultScope.get_instance``) makes its scope
    current for the rest of the process, so a Runner built with the
    default ``default_scope='mmengine'`` would otherwise make a later
    test's ``MODELS.build(dict(type='LinearNeck'))`` look the type up in
    mmengine's registry instead of mmpretrain's."""
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = saved


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def ltml_dir() -> str:
    if not osp.isdir(LTML_DIR):
        pytest.fail(f'official LT split files not found at {LTML_DIR}; '
                    'set MMLTML_LTML_DIR')
    return LTML_DIR
