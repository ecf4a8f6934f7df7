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
