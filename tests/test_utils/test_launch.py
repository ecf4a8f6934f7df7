# Copyright (c) mmltml contributors. All rights reserved.
"""mmltml.utils.launch.finish_distributed: the tools' end-of-run teardown."""
import os
import subprocess
import sys
import textwrap

from tests._ports import launch_with_free_port
from tests._tiny_setup import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import torch.distributed as dist
    from mmltml.utils.launch import finish_distributed
    finish_distributed()  # no group: nothing to do
    dist.init_process_group('gloo', init_method='tcp://127.0.0.1:{port}',
                            rank=0, world_size=1)
    assert dist.is_initialized()
    finish_distributed()
    print('initialized after:', dist.is_initialized())
""")


def test_finish_distributed_destroys_the_group():
    proc = launch_with_free_port(lambda port: subprocess.run(
        [sys.executable, '-c', SCRIPT.format(port=port)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env=dict(os.environ)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'initialized after: False' in proc.stdout
