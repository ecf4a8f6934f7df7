# Copyright (c) mmltml contributors. All rights reserved.
"""Restore the deterministic-algorithms switch that
``randomness=dict(deterministic=True)`` turns on for the whole process once
the package's tests are done (one thread per process is set for the whole
suite in ``tests/conftest.py``).
"""
import pytest
import torch


@pytest.fixture(scope='package', autouse=True)
def _restore_determinism():
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """A workspace with ``configs/`` and ``checkpoints/`` linked from the
    repository and a small synthetic benchmark in ``data/synthetic`` (24
    classes, 104 training and 48 test images of 64 px): the shipped
    configs run there as they are."""
    from tests.test_reliability._synthetic import make_workspace
    return make_workspace(str(tmp_path_factory.mktemp('synthetic')))
