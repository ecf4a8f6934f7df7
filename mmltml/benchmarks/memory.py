# Copyright (c) mmltml contributors. All rights reserved.
"""Peak memory of training steps: peak RSS on CPU (Linux ``VmHWM``, reset
per measurement), ``torch.cuda.max_memory_allocated`` on GPU."""
import ctypes
import gc
import resource

import torch

from .step_timing import text_truncation


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS, so that RSS (and its peak)
    reflects live memory, not what an earlier measurement left in malloc's
    free lists."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_memory(device: torch.device) -> str:
    """Reset the peak counter; returns what :func:`peak_memory_mib`
    measures."""
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return 'torch.cuda.max_memory_allocated'
    release_free_memory()
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM (Linux >= 4.0)
        return 'peak RSS (VmHWM, reset per path after malloc_trim)'
    except OSError:
        return 'peak RSS since process start (ru_maxrss)'


def _proc_status_mib(field: str) -> float:
    """A ``kB`` field of ``/proc/self/status`` in MiB (NaN if absent)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float('nan')


def peak_memory_mib(device: torch.device) -> float:
    """Peak memory since :func:`reset_peak_memory`, MiB."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = _proc_status_mib('VmHWM')
    if peak != peak:  # no /proc: peak RSS since the process started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak


def current_memory_mib(device: torch.device) -> float:
    """Memory in use now, MiB (RSS on CPU, allocated tensors on GPU)."""
    if device.type == 'cuda':
        return torch.cuda.memory_allocated(device) / 2**20
    return _proc_status_mib('VmRSS')


def step_peak_memory(model, optim_wrapper, batch: dict, truncate: bool,
                     steps: int, device: torch.device) -> dict:
    """Peak memory over ``steps`` (at least one) ``model.train_step`` calls
    on ``batch``, the memory in use before them and what was measured."""
    kind = reset_peak_memory(device)
    baseline = current_memory_mib(device)
    with text_truncation(model, truncate):
        for _ in range(max(steps, 1)):
            model.train_step(batch, optim_wrapper)
    return dict(peak_memory_mib=peak_memory_mib(device),
                memory_before_mib=baseline, memory_kind=kind)
