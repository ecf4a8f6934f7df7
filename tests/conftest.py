# Copyright (c) mmltml contributors. All rights reserved.
"""Shared fixtures: paths to the repository and the official LT split files.

The official COCO-LT / VOC-LT list and caption files are not part of the
repository; tests read them from ``../shared/data/ltml`` beside the checkout
(override with ``MMLTML_LTML_DIR``).
"""
import os
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LTML_DIR = os.environ.get(
    'MMLTML_LTML_DIR', osp.join(osp.dirname(REPO_ROOT), 'shared', 'data',
                                'ltml'))


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def ltml_dir() -> str:
    if not osp.isdir(LTML_DIR):
        pytest.fail(f'official LT split files not found at {LTML_DIR}; '
                    'set MMLTML_LTML_DIR')
    return LTML_DIR
