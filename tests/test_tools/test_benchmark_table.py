# Copyright (c) mmltml contributors. All rights reserved.
"""benchmark_table.py: collection of group-mAP metrics over seeds."""
import importlib.util
import json
import subprocess
import os.path as osp

import numpy as np
import pytest

from tests._tiny_setup import REPO_ROOT


@pytest.fixture(scope='module')
def tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                    'benchmark_table.py')
    spec = importlib.util.spec_from_file_location('benchmark_table', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collect_only_mean_and_std(tool, tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(20, 80, (3, 4))
    config = str(tmp_path / 'lmpt_demo.py')
    for seed, row in enumerate(values):
        directory = tool.run_dir(str(tmp_path / 'runs'), config, seed)
        import os
        os.makedirs(directory)
        metrics = {f'lt/{c}': float(v) for c, v in zip(tool.COLUMNS, row)}
        metrics['multi-label/mAP'] = 0.0  # other metrics are ignored
        with open(osp.join(directory, 'metrics.json'), 'w') as f:
            json.dump(metrics, f)
    out = str(tmp_path / 'table.md')
    table = tool.main([config, '--seeds', '0', '1', '2', '--work-dir',
                       str(tmp_path / 'runs'), '--collect-only', '--out',
                       out])
    row = table.splitlines()[-1]
    assert row.startswith('| lmpt_demo | 3 |')
    for column, cell in zip(values.T, row.split('|')[3:7]):
        mean, std = (float(x) for x in cell.split('±'))
        assert mean == pytest.approx(column.mean(), abs=0.006)
        assert std == pytest.approx(column.std(ddof=1), abs=0.006)
    assert open(out).read().strip() == table


def test_missing_group_metrics_is_an_error(tool, tmp_path):
    path = tmp_path / 'metrics.json'
    path.write_text(json.dumps({'multi-label/mAP': 1.0}))
    with pytest.raises(KeyError, match='no group-mAP'):
        tool.read_metrics(str(path))


def test_last_checkpoint_follows_mmengine_pointer(tool, tmp_path):
    """``iter_500`` must not beat a later ``epoch_30`` on its number."""
    import os
    for i, name in enumerate(['iter_500.pth', 'epoch_30.pth']):
        (tmp_path / name).write_bytes(b'x')
        os.utime(tmp_path / name, (1000 + i, 1000 + i))
    assert tool.last_checkpoint(str(tmp_path)).endswith('epoch_30.pth')
    # CheckpointHook's pointer file names the last save
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_500.pth'))
    assert tool.last_checkpoint(str(tmp_path)).endswith('iter_500.pth')
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        tool.last_checkpoint(str(tmp_path / 'empty'))


def test_mean_std_uses_the_finite_values_only(tool):
    assert tool._mean_std(np.array([np.nan, np.nan])) == 'n/a'
    assert tool._mean_std(np.array([61.5, np.nan])) == '61.50'  # no NaN std
    values = np.array([60.0, np.nan, 64.0, 62.0])
    expected = np.std([60.0, 64.0, 62.0], ddof=1)  # 2.0
    assert tool._mean_std(values) == f'62.00 ± {expected:.2f}'


def test_tool_output_goes_to_the_log_and_a_failure_shows_its_end(
        tool, tmp_path, capsys):
    script = tmp_path / 'noisy.py'
    script.write_text('import sys\nfor i in range(60):\n    print(f"line {i}")\n'
                      'sys.exit(int(sys.argv[1]))\n')
    log = tmp_path / 'ok.log'
    tool._call([str(script), '0'], str(log))
    assert capsys.readouterr().out == ''  # quiet: everything is in the log
    assert log.read_text().splitlines()[1:] == [f'line {i}'
                                                for i in range(60)]
    with pytest.raises(subprocess.CalledProcessError):
        tool._call([str(script), '3'], str(tmp_path / 'bad.log'))
    out = capsys.readouterr().out
    assert 'FAILED (exit 3)' in out and str(tmp_path / 'bad.log') in out
    shown = [line for line in out.splitlines() if line.startswith('line ')]
    assert shown == [f'line {i}' for i in range(60 - tool.TAIL_LINES, 60)]
