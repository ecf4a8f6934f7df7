# Copyright (c) mmltml contributors. All rights reserved.
"""tests._ports: a launch whose port was taken is repeated on another."""
import socket
import subprocess
import sys

from tests._ports import launch_with_free_port, port_was_taken

BIND = ('import socket, sys; s = socket.socket(); '
        "s.bind(('127.0.0.1', int(sys.argv[1]))); print('bound', sys.argv[1])")


def _bind_in_child(port):
    return subprocess.run([sys.executable, '-c', BIND, str(port)],
                          capture_output=True, text=True, timeout=60)


def test_taken_port_is_replaced_and_only_then():
    with socket.socket() as held:
        held.bind(('127.0.0.1', 0))
        held.listen()
        taken = held.getsockname()[1]
        ports = []

        def launch(port):
            ports.append(port)
            return _bind_in_child(port)

        proc = launch_with_free_port(launch, first_port=taken)
        assert proc.returncode == 0, proc.stderr
        assert ports[0] == taken and len(ports) == 2 and ports[1] != taken
        assert proc.stdout.split() == ['bound', str(ports[1])]

        failed = _bind_in_child(taken)
        assert port_was_taken(failed)
    # another failure is returned as it is, without a second launch
    calls = []

    def crash(port):
        calls.append(port)
        return subprocess.run([sys.executable, '-c', 'raise SystemExit(3)'])

    assert launch_with_free_port(crash).returncode == 3 and len(calls) == 1
