# Copyright (c) mmltml contributors. All rights reserved.
"""A workspace with the synthetic benchmark for runs of shipped configs."""
import os
import os.path as osp
import shutil

from mmltml.benchmarks.synthetic import generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT

BENCHMARK = osp.join('data', 'synthetic')
TEXT_FILES = ('labels.txt', 'train.txt', 'test.txt', 'captions.txt')


def make_workspace(root: str) -> str:
    """``configs/``, ``checkpoints/`` and a small benchmark under ``root``."""
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), osp.join(root, name))
    generate_synthetic_lt(osp.join(root, BENCHMARK), seed=0,
                          max_train_count=20, test_per_class=4)
    return root


def copy_workspace(src: str, dst: str) -> str:
    """A copy of a workspace whose text files can be edited: the list,
    label and caption files are copied, everything else is linked."""
    os.makedirs(osp.join(dst, BENCHMARK))
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(src, name), osp.join(dst, name))
    for name in os.listdir(osp.join(src, BENCHMARK)):
        source = osp.join(src, BENCHMARK, name)
        target = osp.join(dst, BENCHMARK, name)
        if name in TEXT_FILES:
            shutil.copy(source, target)
        else:
            os.symlink(source, target)
    return dst
