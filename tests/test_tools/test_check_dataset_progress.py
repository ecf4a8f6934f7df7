# Copyright (c) mmltml contributors. All rights reserved.
"""tools/misc/check_dataset.py's progress: mmengine's bar on a terminal, a
few plain lines in a redirected log (the bar wrote one carriage-return
update per image, ~1,900 for COCO-LT's training split)."""
import importlib.util
import io
import os
import os.path as osp
import subprocess
import sys

from tests._tiny_setup import REPO_ROOT, make_tiny_project

TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'check_dataset.py')


def test_redirected_log_gets_a_few_lines(tmp_path):
    cfg = make_tiny_project(str(tmp_path))  # 16 training, 10 test images
    log = tmp_path / 'check.log'
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    with open(log, 'w') as out:
        proc = subprocess.run([sys.executable, TOOL, cfg], cwd=str(tmp_path),
                              env=env, stdout=out, stderr=subprocess.PIPE,
                              text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = log.read_text()
    assert '\r' not in text
    progress = [line.strip() for line in text.splitlines()
                if line.endswith('images checked')]
    # train (16 images) and val (10; test is the same dataset): a line at
    # each fifth of the images
    assert progress == [f'{n}/16 images checked' for n in (4, 7, 10, 13, 16)
                        ] + [f'{n}/10 images checked' for n in (2, 4, 6, 8,
                                                                10)]
    assert text.rstrip().endswith('== no problems found ==')


class _Terminal(io.StringIO):

    def isatty(self):
        return True


def test_terminal_gets_the_bar():
    spec = importlib.util.spec_from_file_location('check_dataset', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    terminal = _Terminal()
    progress = tool.Progress(3, file=terminal)
    for _ in range(3):
        progress.update()
    progress.close()
    text = terminal.getvalue()
    assert text.count('\r') == 3 and '3/3' in text and text.endswith('\n')
    assert 'images checked' not in text
