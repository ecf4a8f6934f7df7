# Copyright (c) mmltml contributors. All rights reserved.
"""Peak memory and time per training step against the number of classes:
the chunked text encoder vs plain autograd over all class prompts.

Each point (a class count and a text path) runs in a fresh Python process
(:func:`mmltml.benchmarks.class_scaling.measure_point`): the config's model
with random weights and ``N`` generic class names, a batch of random
cached image features, the config's loss and optimizer, ``--steps``
training steps. Reported per point: the step's wall and CPU time (the
steps after the first), the peak RSS of the steps and of the whole process
(``os.wait4``, model build included), the memory of the class-specific
parameters (context, gradient, optimizer state) and the peak beyond it;
then the slope of the peak per 1,000 classes, its growth from 1,000 up,
and the time ratio chunked / plain where plain ran (``--plain-up-to``:
plain autograd needs about 11 MiB per class with ViT-B/16, so it stops
fitting a 24 GiB machine near 2,000 classes).

Example (the table of ``docs/benchmarks.md``)::

    python tools/analysis_tools/benchmark_classes.py \\
        --classes 80 400 1000 2000 10000 --plain-up-to 1000 --threads 2 \\
        --out work_dirs/benchmark_classes.json
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional, Sequence

import mmltml  # noqa: F401  (compat fixes before mmpretrain is imported)

MARK = 'POINT-JSON '


def log(message: str) -> None:
    print(f'[benchmark_classes {time.strftime("%H:%M:%S")}] {message}',
          file=sys.stderr, flush=True)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmltml.benchmarks.class_scaling import DEFAULT_CONFIG
    parser = argparse.ArgumentParser(
        description='Peak memory and step time against the class count, '
        'chunked text encoder vs plain autograd.')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='CLIP-prompt config (random weights are used)')
    parser.add_argument('--classes', type=int, nargs='+',
                        default=[80, 400, 1000, 2000, 10000])
    parser.add_argument('--chunk', type=_chunk, default=None,
                        help="text_chunk_size of the chunked path (default "
                        "'auto': the backbone's automatic size)")
    parser.add_argument('--plain-up-to', type=int, default=1000,
                        help='also run plain autograd up to this many '
                        'classes (where the chunked path did chunk)')
    parser.add_argument('--steps', type=int, default=2,
                        help='steps per point (the first is not timed '
                        'unless it is the only one)')
    parser.add_argument('--one-step-above', type=int, default=1000,
                        help='points with more classes run one (timed) '
                        'step')
    parser.add_argument('--flops-up-to', type=int, default=1000,
                        help='count one more step in FLOPs up to this many '
                        'classes (a load-independent cost ratio)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON here '
                        '(after every point)')
    parser.add_argument('--resume', action='store_true',
                        help='keep the points of --out and measure only the '
                        'missing ones')
    parser.add_argument('--point', nargs=2, metavar=('CLASSES', 'CHUNK'),
                        help=argparse.SUPPRESS)  # one point, in this process
    return parser.parse_args(argv)


def _chunk(text: str) -> Optional[int]:
    """``'auto'`` (None) or a ``text_chunk_size``."""
    return None if text == 'auto' else int(text)


def run_point(args: argparse.Namespace, num_classes: int,
              chunk: Optional[int]) -> dict:
    """One point in a fresh process; adds its whole-process peak RSS and
    the load average around it."""
    steps = 1 if num_classes > args.one_step_above else args.steps
    command = [sys.executable, osp.abspath(__file__), '--config',
               args.config, '--steps', str(steps), '--batch-size',
               str(args.batch_size), '--threads', str(args.threads),
               '--seed', str(args.seed), '--point', str(num_classes),
               'auto' if chunk is None else str(chunk)]
    load_before = os.getloadavg()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f'point {num_classes} classes, chunk {chunk} '
                           f'failed (wait status {status})')
    line = next(x for x in out.splitlines() if x.startswith(MARK))
    point = json.loads(line[len(MARK):])
    point.update(process_peak_rss_mib=usage.ru_maxrss / 1024,
                 process_wall_s=time.perf_counter() - start,
                 load_average_1min=[round(load_before[0], 2),
                                    round(os.getloadavg()[0], 2)])
    return point


def run(args: argparse.Namespace) -> dict:
    import torch

    from mmltml.benchmarks.machine import machine_info
    torch.set_num_threads(args.threads)
    points: List[dict] = _earlier_points(args.out) if args.resume else []
    for num in args.classes:  # in the order given
        for chunk in dict.fromkeys((args.chunk, 0)):
            done = [p for p in points if p['num_classes'] == num]
            if any(p['chunk'] == chunk for p in done):
                continue  # measured by an earlier run (--resume)
            if chunk == 0 and (num > args.plain_up_to
                               or not any(p['used_chunk'] for p in done)):
                continue  # too large for plain autograd, or ran plain
            log(f'{num} classes, text_chunk_size={chunk} ...')
            points.append(run_point(args, num, chunk))
            p = points[-1]
            log(f'  step {p["step_s"]:.1f} s (CPU {p["step_cpu_s"]:.1f} s), '
                f'peak RSS {p["peak_rss_mib"]:.0f} MiB, load '
                f'{p["load_average_1min"]}')
            _write(_result(args, points, machine_info), args.out)
    return _result(args, points, machine_info)


def _result(args: argparse.Namespace, points: List[dict],
            machine_info) -> dict:
    import torch

    from mmltml.benchmarks.class_scaling import summarise_points
    points = sorted(points,
                    key=lambda p: (p['num_classes'], p['chunk'] == 0))
    return dict(
        meta=dict(config=args.config, chunk=args.chunk, steps=args.steps,
                  one_step_above=args.one_step_above,
                  batch_size=args.batch_size,
                  command=' '.join([sys.executable] + sys.argv),
                  machine=machine_info(torch.device('cpu'))),
        points=points, summary=summarise_points(points))


def _earlier_points(out: Optional[str]) -> List[dict]:
    """The points of an earlier run's ``--out`` file (``--resume``)."""
    if not out or not osp.isfile(out):
        return []
    with open(out) as f:
        return json.load(f)['points']


def _write(result: dict, out: Optional[str]) -> None:
    """Write the results so far (after every point: a run takes hours)."""
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)


def format_table(result: dict) -> str:
    rows = [f'{"classes":>8} {"path":<8}{"chunk":>6}{"step s":>9}'
            f'{"CPU s":>9}{"ms/class":>10}{"peak MiB":>10}'
            f'{"class MiB":>10}{"beyond MiB":>11}{"load":>12}']
    for p in result['points']:
        path = 'chunked' if p['used_chunk'] else 'plain'
        rows.append(
            f'{p["num_classes"]:>8} {path:<8}{p["used_chunk"] or "-":>6}'
            f'{p["step_s"]:>9.1f}{p["step_cpu_s"]:>9.1f}'
            f'{p["step_s"] / p["num_classes"] * 1e3:>10.1f}'
            f'{p["peak_rss_mib"]:>10.0f}{p["class_specific_mib"]:>10.0f}'
            f'{p["peak_rss_mib"] - p["class_specific_mib"]:>11.0f}'
            f'{str(p["load_average_1min"]):>12}')
    summary = result['summary']
    for path in ('chunked', 'plain'):
        entry = summary.get(path)
        if entry and 'peak_slope_mib_per_1000' in entry:
            line = (f'{path}: peak slope '
                    f'{entry["peak_slope_mib_per_1000"]:.0f} MiB per 1,000 '
                    'classes, beyond the class-specific memory '
                    f'{entry["beyond_slope_mib_per_1000"]:.0f}')
            growth = entry.get('growth')
            if growth:
                line += (f'; growth of the latter from '
                         f'{growth["from_classes"]:,} to '
                         f'{growth["to_classes"]:,} classes '
                         f'{growth["fraction"] * 100:+.1f}%')
            rows.append(line)
    for key, name in (('step_s', 'wall time'), ('step_cpu_s', 'CPU time'),
                      ('step_flops', 'FLOPs')):
        ratios = summary.get(f'{key}_ratio_chunked_to_plain')
        if ratios:
            rows.append(f'{name} chunked / plain: ' + ', '.join(
                f'{c} classes {r:.2f}x' for c, r in ratios.items()))
    return '\n'.join(rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.point:
        from mmltml.benchmarks.class_scaling import measure_point
        num, chunk = int(args.point[0]), _chunk(args.point[1])
        point = measure_point(num, chunk, args.config, args.steps,
                              args.batch_size, args.threads, args.seed,
                              count_flops=num <= args.flops_up_to)
        print(MARK + json.dumps(point), flush=True)
        return 0
    result = run(args)
    print(format_table(result))
    if args.out:
        _write(result, args.out)
        print(f'results written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
