# Copyright (c) mmltml contributors. All rights reserved.
"""A training run (child process) that is hit by a fault while it writes
its n-th checkpoint.

``python -m tests.test_reliability._faults CFG WORK_DIR FAULT N [OPTIONS]``
trains ``CFG`` into ``WORK_DIR`` as :func:`_utils.build_runner_from` does;
the n-th checkpoint file mmengine writes gets half of its bytes, then
``FAULT`` strikes: ``kill`` (SIGKILL of this process) or ``enospc``
(``OSError(ENOSPC)``, a full disk). ``OPTIONS`` is a JSON dict of
``--cfg-options``.
"""
import errno
import json
import os
import signal
import sys

from mmengine.fileio import LocalBackend


def strike_on_checkpoint(fault: str, nth: int) -> None:
    """Make the ``nth`` checkpoint write of ``LocalBackend.put`` fail."""
    put = LocalBackend.put
    count = [0]

    def faulty_put(self, obj, filepath):
        if '.pth' in str(filepath):
            count[0] += 1
            if count[0] == nth:
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                if fault == 'kill':
                    os.kill(os.getpid(), signal.SIGKILL)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                              str(filepath))
        return put(self, obj, filepath)

    LocalBackend.put = faulty_put


def main() -> None:
    cfg, work_dir, fault, nth = sys.argv[1:5]
    options = json.loads(sys.argv[5]) if len(sys.argv) > 5 else None
    from tests.test_reliability._utils import build_runner_from
    strike_on_checkpoint(fault, int(nth))
    build_runner_from(cfg, work_dir, options=options).train()


if __name__ == '__main__':
    main()
