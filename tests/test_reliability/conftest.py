# Copyright (c) mmltml contributors. All rights reserved.
"""One torch thread per process for the reliability tests.

On a shared, loaded CPU machine torch's default two intra-op threads make
the tiny models of these tests ten times slower (threads wait for each
other); one thread keeps runs at a few seconds. Subprocesses (the tools)
inherit ``OMP_NUM_THREADS=1``. The deterministic-algorithms switch that
``randomness=dict(deterministic=True)`` turns on for the whole process is
restored when the package's tests are done.
"""
import pytest
import torch


@pytest.fixture(scope='package', autouse=True)
def _one_thread():
    """Also for module fixtures: the thread count changes results bitwise
    (summation order), so reference and compared runs must share it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OMP_NUM_THREADS', '1')
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='package', autouse=True)
def _restore_determinism():
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic)
