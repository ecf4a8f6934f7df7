# Copyright (c) mmltml contributors. All rights reserved.
"""benchmark_table.py: collection of group-mAP metrics over seeds and the
leaderboard built from the metafiles."""
import glob
import json
import os
import subprocess
import os.path as osp

import numpy as np
import pytest
import yaml

from mmltml.benchmarks.leaderboard import block_markers, mean_std
from tests._tiny_setup import REPO_ROOT, load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools', 'benchmark_table.py')


def test_collect_only_mean_and_std(tool, tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(20, 80, (3, 4))
    config = str(tmp_path / 'lmpt_demo.py')
    for seed, row in enumerate(values):
        directory = tool.run_dir(str(tmp_path / 'runs'), config, seed)
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
    # no metafile entry: labelled by its config name, no backbone
    assert row.startswith('| - | lmpt_demo | `lmpt_demo.py` | 3 |')
    for column, cell in zip(values.T, row.split('|')[5:9]):
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


def test_mean_std_uses_the_finite_values_only():
    assert mean_std(np.array([np.nan, np.nan])) == 'n/a'
    assert mean_std(np.array([61.5, np.nan])) == '61.50'  # no NaN std
    values = np.array([60.0, np.nan, 64.0, 62.0])
    expected = np.std([60.0, 64.0, 62.0], ddof=1)  # 2.0
    assert mean_std(values) == f'62.00 ± {expected:.2f}'


def test_tool_output_goes_to_the_log_and_a_failure_shows_its_end(
        tool, tmp_path, capsys):
    script = tmp_path / 'noisy.py'
    script.write_text('import sys\nfor i in range(60):\n'
                      '    print(f"line {i}")\n'
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


# ---------------------------------------------------------------------------
# The leaderboard: rows from the metafiles
# ---------------------------------------------------------------------------
def _metafile_models():
    """Every model of every metafile, read here with yaml."""
    models = []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*',
                                          'metafile.yml'))):
        with open(path) as f:
            models += yaml.safe_load(f)['Models']
    return models


def _write_metrics(tool, work_dir, config, seed, values):
    directory = tool.run_dir(str(work_dir), config, seed)
    os.makedirs(directory, exist_ok=True)
    with open(osp.join(directory, 'metrics.json'), 'w') as f:
        json.dump({f'lt/{c}': v for c, v in zip(tool.COLUMNS, values)}, f)


def _rows(table):
    return [[c.strip() for c in line.strip('|').split('|')]
            for line in table.splitlines()[2:]]


def test_benchmark_rows_published_numbers_and_backbones(tool, tmp_path):
    """--benchmark COCO-LT: one row per COCO-LT config of the metafiles,
    grouped by backbone, the paper's number beside it, 'not run' where no
    metrics exist."""
    coco = [m for m in _metafile_models()
            if 'COCO-LT' in ((m.get('Results') or [{}])[0].get('Dataset'),
                             m['Metadata'].get('Training Data'))]
    _write_metrics(tool, tmp_path, 'lmpt_vitb16_coco-lt.py', 0,
                   [61.0, 40.0, 65.0, 75.0])
    _write_metrics(tool, tmp_path, 'lmpt_vitb16_coco-lt.py', 1,
                   [63.0, 42.0, 67.0, 77.0])
    table = tool.main(['--benchmark', 'COCO-LT', '--collect-only',
                       '--seeds', '0', '1', '--work-dir', str(tmp_path)])
    rows = _rows(table)
    assert sorted(r[2].strip('`')[:-3] for r in rows) == sorted(
        m['Name'] for m in coco)
    backbones = [r[0] for r in rows]  # each backbone's rows together
    assert len({b for b in backbones}) == sum(
        1 for i, b in enumerate(backbones) if i == 0 or backbones[i - 1] != b)
    by_name = {r[2].strip('`')[:-3]: r for r in rows}
    lmpt = by_name['lmpt_vitb16_coco-lt']
    assert lmpt[1] == 'LMPT' and lmpt[0] == 'ViT-B/16' and lmpt[3] == '2'
    assert lmpt[4:8] == [f'{m:.2f} ± {np.std([a, a + 2], ddof=1):.2f}'
                         for a, m in zip((61, 40, 65, 75), (62, 41, 66, 76))]
    paper = next(m for m in coco if m['Name'] == 'lmpt_vitb16_coco-lt')
    assert lmpt[8] == ' / '.join(
        f'{paper["Results"][0]["Metrics"][k]:.2f}'
        for k in ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail'))
    ablation = by_name['cprfl_r101_no-cls-grad_coco-lt']
    assert ablation[3] == '0' and ablation[4:8] == ['not run'] * 4
    assert ablation[8] == '-'  # no published result


def test_record_renders_again_and_checks_markdown(tool, tmp_path, capsys):
    config = str(tmp_path / 'resnet18-w16_focal_synthetic.py')
    for seed in (0, 1):
        _write_metrics(tool, tmp_path / 'runs', config, seed,
                       [30.0 + seed, 40.0, 30.5, 20.25 + seed])
    record, plot = str(tmp_path / 'record.json'), str(tmp_path / 'p.png')
    table = tool.main([config, '--seeds', '0', '1', '--collect-only',
                       '--work-dir', str(tmp_path / 'runs'), '--record',
                       record, '--plot', plot])
    # the metafile's entry names the row and its backbone
    row = next(r for r in _rows(table)
               if r[2] == '`resnet18-w16_focal_synthetic.py`')
    assert row[:2] == ['ResNet-18 w16', 'focal']
    assert row[4] == f'30.50 ± {np.std([30, 31], ddof=1):.2f}'
    with open(plot, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert tool.main(['--from-record', record]) == table
    start, end = block_markers('Synthetic-LT')
    doc = tmp_path / 'doc.md'
    doc.write_text(f'intro\n{start}\nold table\n{end}\nafter\n')
    bench = ['--benchmark', 'Synthetic-LT']
    with pytest.raises(SystemExit):
        tool.main(['--from-record', record, '--check', str(doc), *bench])
    assert '-old table' in capsys.readouterr().out
    tool.main(['--from-record', record, '--update', str(doc), *bench])
    assert doc.read_text() == f'intro\n{start}\n{table}\n{end}\nafter\n'
    tool.main(['--from-record', record, '--check', str(doc), *bench])


def test_rows_not_found_come_from_an_earlier_record(tool, tmp_path):
    """--earlier: a config that misses a seed keeps the earlier record's
    row (a mean/std summary with its source, written back as it was); a
    config measured for every seed is not replaced."""
    focal = str(tmp_path / 'resnet18-w16_focal_synthetic.py')
    bce = str(tmp_path / 'resnet18-w16_bce_synthetic.py')
    _write_metrics(tool, tmp_path / 'runs', focal, 0, [30.0, 40.0, 30.5, 20])
    _write_metrics(tool, tmp_path / 'runs', focal, 1, [32.0, 40.0, 30.5, 21])
    _write_metrics(tool, tmp_path / 'runs', bce, 1, [10.0, 10.0, 10.0, 10])
    earlier = tmp_path / 'earlier.json'
    summary = dict(seeds=3, source='an older table',
                   mean=dict(zip(tool.COLUMNS, (34.05, 44.53, 37.35, 21.16))),
                   std=dict(zip(tool.COLUMNS, (0.67, 0.72, 0.51, 2.35))))
    earlier.write_text(json.dumps(dict(runs=dict(
        **{'resnet18-w16_bce_synthetic': dict(config=bce, **summary)},
        **{'resnet18-w16_focal_synthetic': dict(config=focal, **summary)}))))
    record = str(tmp_path / 'record.json')
    table = tool.main([focal, bce, '--seeds', '0', '1', '--collect-only',
                       '--work-dir', str(tmp_path / 'runs'), '--earlier',
                       str(earlier), '--record', record])
    rows = {r[2]: r for r in _rows(table)}
    assert rows['`resnet18-w16_bce_synthetic.py`'][3:8] == [
        '3 (summary)', '34.05 ± 0.67', '44.53 ± 0.72', '37.35 ± 0.51',
        '21.16 ± 2.35']
    assert rows['`resnet18-w16_focal_synthetic.py`'][3:5] == [
        '2', f'31.00 ± {np.std([30, 32], ddof=1):.2f}']
    with open(record) as f:
        kept = json.load(f)['runs']['resnet18-w16_bce_synthetic']
    assert kept == dict(config=osp.relpath(bce, REPO_ROOT)
                        if bce.startswith(REPO_ROOT) else bce, **summary)
    assert tool.main(['--from-record', record]) == table


def test_leaderboard_trains_a_later_stage_after_its_previous_stage(
        tool, tmp_path, monkeypatch):
    """A stage-2 config's row: for each seed, its stage 1 is trained first
    with that seed in ``<run dir>/<stage-1 name>/``, stage 2 trains from
    stage 1's last checkpoint, and the test call takes stage 2's one."""
    stage1, stage2 = (osp.join(REPO_ROOT, 'configs', 'synthetic', name)
                      for name in ('hpdval_tinyclip_stage1_synthetic.py',
                                   'hpdval_tinyclip_synthetic.py'))
    calls = []

    def fake_call(args, log):
        calls.append(args)
        work_dir = args[args.index('--work-dir') + 1]
        if args[0].endswith('train.py'):
            open(osp.join(work_dir, f'epoch_{len(calls)}.pth'), 'w').close()
        else:
            with open(args[args.index('--out') + 1], 'w') as f:
                json.dump({f'lt/{c}': 50.0 for c in tool.COLUMNS}, f)
        return 0.0

    monkeypatch.setattr(tool, '_call', fake_call)
    monkeypatch.setattr(tool, 'prepare_synthetic', lambda config: None)
    table = tool.main([stage2, '--seeds', '4', '5', '--work-dir',
                       str(tmp_path)])
    assert len(calls) == 6  # per seed: train stage 1, train stage 2, test
    for seed, (train1, train2, test) in zip((4, 5), (calls[:3], calls[3:])):
        run = osp.join(str(tmp_path), 'hpdval_tinyclip_synthetic',
                       f'seed{seed}')
        stage1_dir = osp.join(run, 'hpdval_tinyclip_stage1_synthetic')
        assert train1[1] == stage1 and f'randomness.seed={seed}' in train1
        assert train1[train1.index('--work-dir') + 1] == stage1_dir
        assert not any(a.startswith('load_from=') for a in train1)
        assert train2[1] == stage2 and f'randomness.seed={seed}' in train2
        assert train2[train2.index('--work-dir') + 1] == run
        loads = [a for a in train2 if a.startswith('load_from=')]
        assert loads == [f'load_from={tool.last_checkpoint(stage1_dir)}']
        assert osp.dirname(loads[0][len('load_from='):]) == stage1_dir
        assert test[0].endswith('test.py') and test[1] == stage2
        assert osp.dirname(test[2]) == run  # stage 2's checkpoint
        assert not any(a.startswith('load_from=') for a in test)
    row = next(r for r in _rows(table)
               if r[2] == '`hpdval_tinyclip_synthetic.py`')
    assert row[3] == '2' and row[4] == '50.00 ± 0.00'


def test_resume_reuses_runs_of_the_same_config_only(
        tool, tmp_path, monkeypatch):
    """--resume: a seed whose run folder has metrics and the config that
    made them (the copy test.py dumped there) is read, not run; a seed
    whose dumped config differs from what this call would run (another
    option), or that has no metrics, is run."""
    from mmltml.benchmarks.synthetic import generate_synthetic_lt
    monkeypatch.chdir(tmp_path)
    os.symlink(osp.join(REPO_ROOT, 'checkpoints'), 'checkpoints')  # tiny CLIP
    # 64 px for the tiny CLIP; up to 120 images: a populated head group
    generate_synthetic_lt('data/synthetic', seed=0, image_size=64,
                          max_train_count=120, min_train_count=3,
                          test_per_class=4)
    config = osp.join(REPO_ROOT, 'configs', 'synthetic',
                      'clip_tinyclip_zeroshot_synthetic.py')
    runs = str(tmp_path / 'runs')
    first = tool.main([config, '--seeds', '0', '--work-dir', runs])  # real
    calls = []

    def fake_call(args, log):
        calls.append(args)
        with open(args[args.index('--out') + 1], 'w') as f:
            json.dump({f'lt/{c}': 50.0 for c in tool.COLUMNS}, f)
        return 0.0

    monkeypatch.setattr(tool, '_call', fake_call)
    again = tool.main([config, '--seeds', '0', '1', '--work-dir', runs,
                       '--resume'])
    assert len(calls) == 1 and 'randomness.seed=1' in calls[0]  # seed 0 read
    measured = float(_rows(first)[-1][4].split('±')[0])
    mean = float(_rows(again)[-1][4].split('±')[0])
    assert mean == pytest.approx((measured + 50.0) / 2, abs=0.006)
    calls.clear()
    tool.main([config, '--seeds', '0', '--work-dir', runs, '--resume',
               '--cfg-options', 'test_dataloader.batch_size=7'])
    assert len(calls) == 1  # the dumped config has batch size 128
