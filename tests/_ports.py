# Copyright (c) mmltml contributors. All rights reserved.
"""Free TCP ports for the tests' distributed launches, without the race.

A port found free (bound to port 0, then closed) can be taken by another
process before the launched child binds it; the launch then fails with
``EADDRINUSE``. Launches therefore go through :func:`launch_with_free_port`,
which draws a new port and launches again when, and only when, the child
failed because its port was taken.
"""
import socket
import subprocess
from typing import Callable

#: How a child reports that its rendezvous port was taken (torch's c10d
#: store / gloo: ``EADDRINUSE``; Python's socket: errno 98's message).
ADDRESS_IN_USE = ('eaddrinuse', 'address already in use')
ATTEMPTS = 3


def free_port() -> int:
    """A port that was free a moment ago (the OS's choice for port 0)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def port_was_taken(proc: subprocess.CompletedProcess) -> bool:
    """Whether ``proc`` failed because its port was in use."""
    output = f'{proc.stdout or ""}{proc.stderr or ""}'.lower()
    return proc.returncode != 0 and any(m in output for m in ADDRESS_IN_USE)


def launch_with_free_port(
        launch: Callable[[int], subprocess.CompletedProcess],
        first_port: int = None) -> subprocess.CompletedProcess:
    """``launch(port)`` on a free port (``first_port`` first, if given),
    again on a new one if the port was taken in the meantime (at most
    :data:`ATTEMPTS` launches); returns the last run."""
    port = first_port or free_port()
    for _ in range(ATTEMPTS - 1):
        proc = launch(port)
        if not port_was_taken(proc):
            return proc
        port = free_port()
    return launch(port)
