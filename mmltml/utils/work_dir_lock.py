# Copyright (c) mmltml contributors. All rights reserved.
"""One training run per work dir.

A run holds ``<work_dir>/.mmltml_run.lock``, a JSON file naming its
process (pid, host, command, start time). A second run into the same work
dir is refused with a :class:`WorkDirBusyError` naming the first one. A
lock left behind by a killed run is *stale* (its pid is not alive on this
host, or is alive but is another process started later) and is taken over
with a warning. Lock files of other hosts cannot be checked and are
respected: remove them by hand once that run is gone.

Taking and checking the lock is serialised between processes with
``fcntl.flock`` on a guard file, so two runs starting at once cannot both
win. In distributed runs only rank 0 takes the lock (the other ranks
belong to the same run). The lock is released when the run ends and, at
the latest, when the process exits.
"""
import atexit
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

from .atomic_file import atomic_write_text

LOCK_NAME = '.mmltml_run.lock'
_HELD: Dict[str, dict] = {}  # lock path -> owner info, held by this process


class WorkDirBusyError(RuntimeError):
    """Another live run holds the work dir."""


def _process_start(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (clock ticks since boot), or
    None where ``/proc`` cannot tell."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            # the command name (field 2) may hold spaces: split after it
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict:
    return dict(
        pid=os.getpid(),
        host=socket.gethostname(),
        command=' '.join([sys.executable] + sys.argv),
        started=time.strftime('%Y-%m-%d %H:%M:%S %Z'),
        proc_start=_process_start(os.getpid()))


def _is_alive(owner: dict) -> bool:
    """Whether the run that wrote ``owner`` may still be running."""
    if owner.get('host') != socket.gethostname():
        return True  # cannot tell: respect it
    pid = owner.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    start = _process_start(pid)
    recorded = owner.get('proc_start')
    return start is None or recorded is None or start == recorded


def describe(owner: dict) -> str:
    """``pid 123 on host h, started ..., command ...``."""
    return (f'pid {owner.get("pid")} on host {owner.get("host")}, started '
            f'{owner.get("started")}, command: {owner.get("command")}')


@contextmanager
def _guard(work_dir: str) -> Iterator[None]:
    with open(osp.join(work_dir, LOCK_NAME + '.guard'), 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: str) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: written by a run killed mid-write


def acquire_work_dir(work_dir: str, rank: int = 0) -> Optional[str]:
    """Take the run lock of ``work_dir`` for this process.

    Args:
        work_dir (str): The run's work dir (created if missing).
        rank (int): Distributed rank; only rank 0 takes the lock.

    Returns:
        str | None: A warning if a stale lock was taken over, else None.

    Raises:
        WorkDirBusyError: If a live run (another process) holds it.
    """
    if rank != 0:
        return None
    os.makedirs(work_dir, exist_ok=True)
    path = osp.realpath(osp.join(work_dir, LOCK_NAME))
    if path in _HELD:
        return None
    note = None
    with _guard(work_dir):
        owner = _read(path)
        if owner is not None:
            if owner.get('pid') != os.getpid() and _is_alive(owner):
                raise WorkDirBusyError(
                    f'work dir {work_dir} is in use by another run '
                    f'({describe(owner)}); use another --work-dir, or wait '
                    f'for it to end (if it is gone, remove {path})')
            note = (f'took over the stale run lock of {work_dir} '
                    f'({describe(owner)}; that process is gone)')
        me = _owner()
        atomic_write_text(path, json.dumps(me))
    _HELD[path] = me
    return note


def release_work_dir(work_dir: str) -> None:
    """Give the run lock of ``work_dir`` back (if this process holds it)."""
    path = osp.realpath(osp.join(work_dir, LOCK_NAME))
    if _HELD.pop(path, None) is None:
        return
    with _guard(osp.dirname(path)):
        owner = _read(path)
        if owner and owner.get('pid') == os.getpid():
            os.unlink(path)


@atexit.register
def _release_all() -> None:
    for path in list(_HELD):
        release_work_dir(osp.dirname(path))
