# Copyright (c) mmltml contributors. All rights reserved.
"""Run (or collect) configs over seeds; write a group-mAP markdown table.

For every config and seed: train with ``tools/train.py`` (configs without a
``train_cfg``, such as zero-shot CLIP, are only tested), test the last
checkpoint with ``tools/test.py`` and keep its metrics as JSON under
``WORK_DIR/<config name>/seed<seed>/``. A config that continues another
one (``previous_stage``, :mod:`mmltml.utils.stage_cfg`, e.g. HP-DVAL's
stage 2) first has that one trained with the same seed in a sub-folder
named after it, and starts from its last checkpoint (``load_from``). The table gives total / head /
medium / tail mAP as mean +- std over seeds (LMPT Table 1 style).

Each call's full output goes to ``train.log`` / ``test.log`` in the run's
folder and one status line per run is printed (``--verbose`` streams the
output instead); a failed call prints the end of its log.

Example::

    python tools/analysis_tools/benchmark_table.py \
        configs/synthetic/clip_tinyclip_zeroshot_synthetic.py \
        configs/synthetic/lmpt_tinyclip_synthetic.py \
        --seeds 0 1 2 --work-dir work_dirs/benchmark --out table.md
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from collections import deque
from typing import Dict, List, Optional

import numpy as np

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
COLUMNS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
#: Lines of a failed call's log printed with the error.
TAIL_LINES = 40


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument(
        '--collect-only',
        action='store_true',
        help='do not run anything; read the metrics already written')
    parser.add_argument('--out', help='write the markdown table here')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='passed to every train.py / test.py call')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help='stream the output of train.py / test.py instead of writing '
        'it to train.log / test.log in each run folder')
    return parser.parse_args(argv)


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
    stage_dir = osp.join(directory, osp.splitext(osp.basename(path))[0])
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


def summarise(runs: Dict[str, List[Dict[str, float]]]) -> str:
    """Markdown table of mean +- std over seeds."""
    lines = ['| config | seeds | total mAP | head | medium | tail |',
             '|---|---|---|---|---|---|']
    for name, values in runs.items():
        cells = []
        for column in COLUMNS:
            column_values = np.array([v.get(column, np.nan) for v in values])
            cells.append(_mean_std(column_values))
        lines.append(f'| {name} | {len(values)} | ' + ' | '.join(cells) +
                     ' |')
    return '\n'.join(lines)


def _mean_std(values: np.ndarray) -> str:
    """``mean ± std`` (sample std) of the finite values; one value alone."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return 'n/a'
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{values.mean():.2f} ± {values.std(ddof=1):.2f}'


def main(argv=None) -> Optional[str]:
    args = parse_args(argv)
    runs: Dict[str, List[Dict[str, float]]] = {}
    for config in args.configs:
        name = osp.splitext(osp.basename(config))[0]
        for seed in args.seeds:
            directory = run_dir(args.work_dir, config, seed)
            metrics = osp.join(directory, 'metrics.json')
            if not args.collect_only:
                os.makedirs(directory, exist_ok=True)
                metrics = run_one(config, seed, directory, args.cfg_options,
                                  args.verbose)
            runs.setdefault(name, []).append(read_metrics(metrics))
    table = summarise(runs)
    print('\n' + table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
        print(f'\ntable written to {args.out}; runs in {args.work_dir}')
    return table


if __name__ == '__main__':
    main()
