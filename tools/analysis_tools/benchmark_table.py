# Copyright (c) mmltml contributors. All rights reserved.
"""Run (or collect) configs over seeds and print the leaderboard.

For every config and seed: train with ``tools/train.py`` (configs without a
``train_cfg``, such as zero-shot CLIP, are only tested), test the last
checkpoint with ``tools/test.py`` and keep its metrics as JSON under
``WORK_DIR/<config name>/seed<seed>/``. The leaderboard
(:mod:`mmltml.benchmarks.leaderboard`) has one row per config, grouped by
backbone: total / head / medium / tail mAP as mean +- std over seeds (LMPT
Table 1 style), the config that produced the row, and the published number
beside it where its metafile entry has one. A config that continues
another one (``previous_stage``, :mod:`mmltml.utils.stage_cfg`, e.g.
HP-DVAL's stage 2) first has that one trained with the same seed in a
sub-folder named after it (``WORK_DIR/<config name>/seed<seed>/<previous
config name>/``), and starts from its last checkpoint (``load_from``).

``--benchmark NAME`` takes every config whose metafile entry is on that
benchmark (``Synthetic-LT``, ``COCO-LT``, ``VOC-LT``, ``NUS-WIDE-LT``):
adding a row is adding a config and its metafile entry. The synthetic
benchmark's data is generated first when it is missing. ``--record`` keeps
every seed's metrics as JSON, ``--from-record`` renders a record again
without running anything, ``--plot`` draws the per-group mAP of each row
(PNG), ``--update`` rewrites the generated table of a markdown file and
``--check`` fails when a markdown file's table differs from this one.
``--earlier RECORD`` takes the rows that this call did not measure for
every seed (e.g. ``--collect-only`` after a partial run) from an earlier
record, which keeps their source. ``--resume`` reuses the seeds whose run
folder already has metrics, when the configs the run dumped there (its own
and its previous stages') equal what this call would run; the others are
run (an interrupted leaderboard goes on where it stopped).

Each call's full output goes to ``train.log`` / ``test.log`` in the run's
folder and one status line per run is printed (``--verbose`` streams the
output instead); a failed call prints the end of its log.

Examples::

    # the synthetic leaderboard of the README, from a clean checkout
    python tools/analysis_tools/benchmark_table.py --benchmark Synthetic-LT \
        --seeds 0 1 2 --work-dir work_dirs/synthetic_bench \
        --record work_dirs/synthetic_bench/record.json --check README.md
    # published numbers of COCO-LT beside whatever was run
    python tools/analysis_tools/benchmark_table.py --benchmark COCO-LT \
        --collect-only --work-dir work_dirs/coco
"""
import argparse
import copy
import difflib
import glob
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from collections import deque
from typing import Dict, List, Optional

import numpy as np

from mmltml.benchmarks.leaderboard import (COLUMNS, Summary,
                                           benchmark_configs, plot_groups,
                                           read_block, read_model_index,
                                           render_table, replace_block)

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO = osp.dirname(TOOLS)
#: Lines of a failed call's log printed with the error.
TAIL_LINES = 40


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', help='config files')
    parser.add_argument(
        '--benchmark',
        help='add every config of this benchmark (metafile dataset name)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='reuse the seeds whose run folder already has metrics of the '
        'same config (compared with the config the run dumped there); run '
        'the others')
    parser.add_argument(
        '--collect-only',
        action='store_true',
        help='do not run anything; read the metrics already written')
    parser.add_argument(
        '--from-record', help='render this record (JSON); run nothing')
    parser.add_argument('--record', help='write every seed\'s metrics here')
    parser.add_argument(
        '--earlier',
        help='take the rows this call did not measure for every seed from '
        'this earlier record (JSON)')
    parser.add_argument('--out', help='write the markdown table here')
    parser.add_argument('--plot', help='write the per-group mAP plot here')
    parser.add_argument(
        '--update', nargs='+', default=[], metavar='MARKDOWN',
        help='replace the generated table of these files')
    parser.add_argument(
        '--check', nargs='+', default=[], metavar='MARKDOWN',
        help='exit 1 if the generated table of these files differs')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='passed to every train.py / test.py call')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help='stream the output of train.py / test.py instead of writing '
        'it to train.log / test.log in each run folder')
    args = parser.parse_args(argv)
    if not (args.configs or args.benchmark or args.from_record):
        parser.error('give configs, --benchmark or --from-record')
    return args


def run_dir(work_dir: str, config: str, seed: int) -> str:
    name = osp.splitext(osp.basename(config))[0]
    return osp.join(work_dir, name, f'seed{seed}')


def is_trainable(config: str) -> bool:
    from mmengine.config import Config
    return bool(Config.fromfile(config).get('train_cfg'))


def last_checkpoint(directory: str) -> str:
    """The checkpoint mmengine's ``CheckpointHook`` saved last (it names it
    in ``last_checkpoint``), else the newest ``epoch_*`` / ``iter_*``."""
    from mmengine.runner import find_latest_checkpoint
    path = find_latest_checkpoint(directory)
    if path and osp.isfile(path):
        return path
    found = glob.glob(osp.join(directory, 'epoch_*.pth')) + glob.glob(
        osp.join(directory, 'iter_*.pth'))
    if not found:
        raise FileNotFoundError(f'no checkpoint in {directory}')
    return max(found, key=osp.getmtime)


def _call(args: List[str], log: Optional[str]) -> float:
    """Run a tool with this Python; its output goes to ``log`` (or to the
    terminal when None). Returns the seconds it took; a failure raises
    ``CalledProcessError`` after printing the end of the log."""
    start = time.perf_counter()
    if log is None:
        print('+', ' '.join(args), flush=True)
        subprocess.run([sys.executable] + args, check=True)
        return time.perf_counter() - start
    with open(log, 'w') as f:
        f.write('+ ' + ' '.join(args) + '\n')
        f.flush()
        result = subprocess.run([sys.executable] + args, stdout=f,
                                stderr=subprocess.STDOUT)
    if result.returncode:
        with open(log, errors='replace') as f:
            tail = ''.join(deque(f, maxlen=TAIL_LINES))
        print(f'\nFAILED (exit {result.returncode}): {" ".join(args)}\n'
              f'last {TAIL_LINES} lines of {log}:\n{tail}', flush=True)
        raise subprocess.CalledProcessError(result.returncode, args)
    return time.perf_counter() - start


def previous_stage_dir(directory: str, previous: str) -> str:
    """Where the run in ``directory`` trains its previous stage, the
    config ``previous``: a sub-folder named after it."""
    return osp.join(directory, osp.splitext(osp.basename(previous))[0])


def train_previous_stage(config: str, seed: int, directory: str,
                         cfg_options: List[str],
                         verbose: bool = False) -> Optional[str]:
    """Train the config ``config`` continues (``previous_stage``), after
    the stages before it, in ``directory/<its name>``; return its last
    checkpoint (None for a config that continues nothing)."""
    from mmengine.config import Config

    from mmltml.utils.stage_cfg import previous_stage
    path = previous_stage(Config.fromfile(config), config)
    if path is None:
        return None
    stage_dir = previous_stage_dir(directory, path)
    os.makedirs(stage_dir, exist_ok=True)
    load_from = train_previous_stage(path, seed, stage_dir, cfg_options,
                                     verbose)
    options = ['--cfg-options', f'randomness.seed={seed}', *cfg_options] + (
        [f'load_from={load_from}'] if load_from else [])
    log = None if verbose else osp.join(stage_dir, 'train.log')
    _call([osp.join(TOOLS, 'train.py'), path, '--work-dir', stage_dir,
           *options], log)
    return last_checkpoint(stage_dir)


def run_one(config: str, seed: int, directory: str,
            cfg_options: List[str], verbose: bool = False) -> str:
    """Train (if trainable, after its previous stages) and test one
    config; return the metrics file.

    Without ``verbose`` the tools' output goes to ``train.log`` /
    ``test.log`` in ``directory`` and one status line is printed.
    """
    name = osp.splitext(osp.basename(config))[0]
    if not verbose:
        print(f'{name} seed {seed}:', end='', flush=True)
    options = ['--cfg-options', f'randomness.seed={seed}', *cfg_options]
    start = time.perf_counter()
    load_from = train_previous_stage(config, seed, directory, cfg_options,
                                     verbose)
    checkpoint, done = [], []  # the test call takes the trained weights
    train_options = options
    if load_from is not None:
        done.append(f'previous stage(s) trained in '
                    f'{time.perf_counter() - start:.0f} s')
        train_options = options + [f'load_from={load_from}']
    metrics = osp.join(directory, 'metrics.json')
    calls = [('train', [osp.join(TOOLS, 'train.py'), config, '--work-dir',
                        directory, *train_options])
             ] if is_trainable(config) else []
    calls.append(('test', [osp.join(TOOLS, 'test.py'), config, '--work-dir',
                           directory, '--out', metrics, '--out-item',
                           'metrics', *options]))
    for kind, args in calls:
        log = None if verbose else osp.join(directory, f'{kind}.log')
        seconds = _call(args[:2] + checkpoint + args[2:], log)
        done.append(f'{kind}ed in {seconds:.0f} s')
        if kind == 'train':
            checkpoint = [last_checkpoint(directory)]
    if not verbose:
        logs = ' + '.join(f'{kind}.log' for kind, _ in calls)
        print(f' {", ".join(done)}, mAP {read_metrics(metrics)["mAP"]:.2f} '
              f'(logs: {directory}/{logs})', flush=True)
    return metrics


def read_metrics(path: str) -> Dict[str, float]:
    """The group-mAP values of a metrics file, by column name.

    The group metric is the one that reports ``mAP_head``; other metrics
    (e.g. mmpretrain's ``multi-label/mAP``) are ignored.
    """
    with open(path) as f:
        metrics = json.load(f)
    prefixes = [key[:-len('mAP_head')] for key in metrics
                if key.endswith('mAP_head')]
    if not prefixes:
        raise KeyError(f'{path} has no group-mAP results: {sorted(metrics)}')
    return {column: float(metrics[prefixes[0] + column])
            for column in COLUMNS if prefixes[0] + column in metrics}


def _resolve(config: str) -> str:
    """A metafile's config path, from the working directory if it is
    there (a checkout or a workspace linking ``configs``), else from the
    repository."""
    return config if osp.isfile(config) else osp.join(REPO, config)


def prepare_synthetic(config: str) -> None:
    """Generate the built-in synthetic benchmark a config reads, if it is
    missing (the default parameters; idempotent)."""
    from mmengine.config import Config
    root = Config.fromfile(config).get('data_root')
    if (isinstance(root, str) and osp.basename(root).startswith('synthetic')
            and not osp.isdir(root)):
        from mmltml.benchmarks.synthetic import generate_synthetic_lt
        print(f'generating the synthetic benchmark into {root}', flush=True)
        generate_synthetic_lt(root)


#: Config keys that name where and how a run was launched, not what it
#: computes.
LAUNCH_KEYS = ('work_dir', 'load_from', 'resume', 'launcher')


def run_config_difference(cfg, seed: int, dumped: str,
                          cfg_options: List[str]) -> Optional[str]:
    """The first key in which the config a run dumped (``dumped``,
    mmengine's copy in the run folder) differs from ``cfg`` (a loaded
    config, left as it is) with this seed and ``cfg_options`` as the tools
    would run it; None if none."""
    from mmengine.config import Config

    from mmltml.utils.launch import add_common_args, set_dataloader_defaults
    parser = argparse.ArgumentParser()  # the tools' own --cfg-options
    add_common_args(parser)
    now = copy.deepcopy(cfg)
    now.merge_from_dict(parser.parse_args(
        ['--cfg-options', f'randomness.seed={seed}',
         *cfg_options]).cfg_options)
    set_dataloader_defaults(now)
    then = Config.fromfile(dumped).to_dict()
    now = now.to_dict()
    for key in sorted(set(now) | set(then)):
        if key not in LAUNCH_KEYS and now.get(key) != then.get(key):
            return key
    return None


def reusable(config: str, seed: int, directory: str,
             cfg_options: List[str]) -> bool:
    """Whether ``directory`` holds the metrics of this config and seed
    (``--resume``): its metrics file, and the configs it and its previous
    stages' sub-folders dumped equal the ones this call would run. Says
    why not when there are metrics that do not fit."""
    from mmengine.config import Config

    from mmltml.utils.stage_cfg import previous_stage
    name = osp.splitext(osp.basename(config))[0]
    if not osp.isfile(osp.join(directory, 'metrics.json')):
        return False
    stage, stage_dir = config, directory
    while stage is not None:
        dumped = osp.join(stage_dir, osp.basename(stage))
        if not osp.isfile(dumped):
            print(f'{name} seed {seed}: {stage_dir} has no copy of the '
                  f'config {osp.basename(stage)}; running again')
            return False
        cfg = Config.fromfile(stage)
        key = run_config_difference(cfg, seed, dumped, cfg_options)
        if key is not None:
            print(f'{name} seed {seed}: {dumped} differs from {stage} in '
                  f'{key!r}; running again')
            return False
        stage = previous_stage(cfg, stage)
        if stage is not None:
            stage_dir = previous_stage_dir(stage_dir, stage)
    return True


def collect(args, configs: List[str]) -> Dict[str, List[Optional[dict]]]:
    """Run (or read) every config and seed; metrics per seed, None where
    ``--collect-only`` finds no metrics file."""
    runs: Dict[str, List[Optional[dict]]] = {}
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        if not args.collect_only:
            prepare_synthetic(config)
        for seed in args.seeds:
            directory = run_dir(args.work_dir, config, seed)
            metrics = osp.join(directory, 'metrics.json')
            reuse = args.resume and reusable(config, seed, directory,
                                             args.cfg_options)
            if reuse:
                print(f'{name} seed {seed}: reused ({metrics})')
            elif not args.collect_only:
                os.makedirs(directory, exist_ok=True)
                metrics = run_one(config, seed, directory, args.cfg_options,
                                  args.verbose)
            elif not osp.isfile(metrics):
                print(f'{name} seed {seed}: not run ({metrics} missing)')
                runs.setdefault(name, []).append(None)
                continue
            runs.setdefault(name, []).append(read_metrics(metrics))
    return runs


def write_record(path: str, args, runs: dict, configs: Dict[str, str],
                 argv: List[str]) -> None:
    import torch
    record = dict(
        benchmark=args.benchmark,
        command=' '.join(['python tools/analysis_tools/benchmark_table.py'] +
                         argv),
        seeds=args.seeds,
        environment=dict(python=platform.python_version(),
                         torch=torch.__version__, numpy=np.__version__,
                         cpu_count=os.cpu_count()),
        runs={name: _record_row(configs[name], runs[name]) for name in runs})
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(record, f, indent=1)
        f.write('\n')


def _record_row(config: str, row) -> dict:
    """A record's row: each seed's metrics, or a summary and its source."""
    if isinstance(row, Summary):
        return dict(config=config, seeds=row.seeds, mean=row.mean,
                    std=row.std, source=row.source)
    return dict(config=config, metrics=row)


def read_record(path: str):
    """``(benchmark, runs, configs)`` of a record written by --record: a
    row is each seed's metrics, or a :class:`Summary` where the record
    keeps only mean and std (with their ``source``)."""
    with open(path) as f:
        record = json.load(f)
    runs = {
        name: run['metrics'] if 'metrics' in run else Summary(
            run['seeds'], run['mean'], run['std'], run['source'])
        for name, run in record['runs'].items()
    }
    configs = {name: run['config'] for name, run in record['runs'].items()}
    return record.get('benchmark'), runs, configs


def fill_from_earlier(runs: dict, configs: Dict[str, str], path: str) -> None:
    """Replace the rows of ``runs`` that miss a seed by the same config's
    row of the earlier record ``path``, if it has one."""
    _, earlier, earlier_configs = read_record(path)
    for name, row in runs.items():
        if name in earlier and any(m is None for m in row):
            runs[name] = earlier[name]
            print(f'{name}: taken from {path} '
                  f'({earlier_configs[name]})')


def check_files(paths: List[str], benchmark: str, table: str) -> bool:
    """Whether every file's generated table equals ``table`` (a diff is
    printed for those that differ)."""
    same = True
    for path in paths:
        with open(path) as f:
            found = read_block(f.read(), benchmark)
        if found is None:
            print(f'{path}: no generated {benchmark} table')
            same = False
        elif found != table:
            print(f'{path}: the {benchmark} table differs:')
            print('\n'.join(difflib.unified_diff(
                found.splitlines(), table.splitlines(), 'file', 'now',
                lineterm='')))
            same = False
        else:
            print(f'{path}: the {benchmark} table is the same')
    return same


def main(argv=None) -> str:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    entries = read_model_index(osp.join(REPO, 'model-index.yml'))
    benchmark = args.benchmark
    if args.from_record:
        benchmark, runs, configs = read_record(args.from_record)
        benchmark = args.benchmark or benchmark
    else:
        paths = list(args.configs)
        if args.benchmark:
            paths += [_resolve(c) for c in
                      benchmark_configs(entries, args.benchmark)]
        configs = {osp.splitext(osp.basename(p))[0]: p for p in paths}
        runs = collect(args, list(configs.values()))
        if args.earlier:
            fill_from_earlier(runs, configs, args.earlier)
        configs = {name: osp.relpath(path, REPO)
                   if osp.abspath(path).startswith(REPO + os.sep) else path
                   for name, path in configs.items()}
    table = render_table(runs, configs, entries)
    print('\n' + table)
    if args.record:
        write_record(args.record, args, runs, configs, argv)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
        print(f'\ntable written to {args.out}; runs in {args.work_dir}')
    if args.plot:
        plot_groups(runs, entries, args.plot,
                    f'{benchmark or "benchmark"}: mAP per group')
        print(f'plot written to {args.plot}')
    if (args.update or args.check) and not benchmark:
        raise SystemExit('--update / --check need --benchmark (the name '
                         'in the table markers)')
    for path in args.update:
        with open(path) as f:
            text = replace_block(f.read(), benchmark, table)
        with open(path, 'w') as f:
            f.write(text)
        print(f'{path}: {benchmark} table updated')
    if args.check and not check_files(args.check, benchmark, table):
        raise SystemExit(1)
    return table


if __name__ == '__main__':
    main()
