# Copyright (c) mmltml contributors. All rights reserved.
"""Run a tool with a memory limit that leaves ``MARGIN`` MB.

``python -m tests.test_reliability._limited_memory MARGIN TOOL ARGS...``
imports the OpenMMLab stack, then limits the address space of the process
(``RLIMIT_AS``) to what it uses plus ``MARGIN`` MB and runs ``TOOL`` as
``__main__``: a small machine, or a job with a memory limit.
"""
import resource
import runpy
import sys

import mmltml.apis  # noqa: F401  (the large imports, before the limit)


def main() -> None:
    margin = int(sys.argv[1])
    with open('/proc/self/status') as f:
        used = next(int(line.split()[1]) * 1024 for line in f
                    if line.startswith('VmSize'))
    limit = used + margin * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name='__main__')


if __name__ == '__main__':
    main()
