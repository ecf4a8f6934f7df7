# Copyright (c) mmltml contributors. All rights reserved.
"""The leaderboard of ``tools/analysis_tools/benchmark_table.py``.

A row is a config: its method, backbone and published numbers come from
its entry in a metafile listed by ``model-index.yml``, so adding a row is
adding a config and its metafile entry:

* ``Metadata.Method`` (optional): the row's label, else the entry's
  ``In Collection``;
* ``Metadata.Backbone``: rows are grouped by it;
* ``Results[0].Dataset`` (or ``Metadata.Training Data``): the benchmark the
  row belongs to (``--benchmark COCO-LT`` selects every such config);
* ``Metadata.Results Source``: results whose source starts with
  ``paper`` or ``published`` are shown beside the row as the published
  number; ``measured by mmltml`` results are this project's record.

Measured values are mean +- sample std over seeds of the group-mAP
metrics. A *record* (JSON) keeps every seed's metrics of a run, so a table
can be rendered again without running anything; a markdown file holds a
table between the markers of :func:`block_markers`, which
:func:`replace_block` rewrites.
"""
import os.path as osp
import re
from typing import (Dict, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import yaml

#: Group-mAP metric names, in table order.
COLUMNS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
HEADERS = ('total', 'head', 'medium', 'tail')
_PUBLISHED = ('paper', 'published')

Metrics = Dict[str, float]


class Summary(NamedTuple):
    """A row kept as mean and sample std over seeds, without the seeds'
    own values (measured before records kept them). ``source`` says where
    the numbers come from."""
    seeds: int
    mean: Metrics
    std: Metrics
    source: str


#: The measurements of one config: each seed's metrics (None: not run), or
#: a :class:`Summary`.
Row = Union[List[Optional[Metrics]], Summary]


def row_stats(row: Row) -> tuple:
    """``(number of seeds, mean per column, sample std per column)`` of a
    row, each column over its finite values (NaN where there is none; the
    std NaN below two values)."""
    if isinstance(row, Summary):
        return (row.seeds, [row.mean.get(c, np.nan) for c in COLUMNS],
                [row.std.get(c, np.nan) for c in COLUMNS])
    done = [m for m in row if m is not None]
    stats = [_finite_mean_std([m.get(c, np.nan) for m in done])
             for c in COLUMNS]
    return len(done), [m for m, _ in stats], [s for _, s in stats]


def _finite_mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample std of the finite values (NaN where there is none;
    the std NaN below two values)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    mean = values.mean() if len(values) else np.nan
    return mean, values.std(ddof=1) if len(values) > 1 else np.nan


class Entry(NamedTuple):
    """What a metafile says about one config."""
    name: str  #: config name (file name without ``.py``)
    config: str  #: config path relative to the repository
    method: str  #: row label
    backbone: str
    benchmark: Optional[str]  #: dataset name, e.g. ``'COCO-LT'``
    published: Optional[Metrics]  #: published numbers, if any
    measured: Optional[Metrics]  #: this project's recorded means, if any


def _benchmark(model: dict) -> Optional[str]:
    results = model.get('Results') or []
    if results and results[0].get('Dataset'):
        return results[0]['Dataset']
    data = (model.get('Metadata') or {}).get('Training Data')
    return data[0] if isinstance(data, list) else data


def _entry(model: dict) -> Entry:
    meta = model.get('Metadata') or {}
    source = str(meta.get('Results Source', '')).lower()
    results = model.get('Results') or []
    metrics = dict(results[0]['Metrics']) if results else None
    return Entry(
        name=model['Name'],
        config=model['Config'],
        method=meta.get('Method') or model.get('In Collection', ''),
        backbone=str(meta.get('Backbone', '-')),
        benchmark=_benchmark(model),
        published=metrics if source.startswith(_PUBLISHED) else None,
        measured=metrics if source.startswith('measured') else None)


def read_model_index(path: str) -> Dict[str, Entry]:
    """Every model of the metafiles that ``model-index.yml`` imports, by
    config name, in file order."""
    root = osp.dirname(osp.abspath(path))
    with open(path) as f:
        imports = yaml.safe_load(f)['Import']
    entries = {}
    for metafile in imports:
        with open(osp.join(root, metafile)) as f:
            for model in yaml.safe_load(f).get('Models') or []:
                entries[model['Name']] = _entry(model)
    return entries


def benchmark_configs(entries: Dict[str, Entry], benchmark: str) -> List[str]:
    """Config paths of every entry of ``benchmark`` (case-insensitive)."""
    found = [e.config for e in entries.values()
             if (e.benchmark or '').lower() == benchmark.lower()]
    if not found:
        names = sorted({e.benchmark for e in entries.values()
                        if e.benchmark})
        raise ValueError(f'no config of benchmark {benchmark!r} in the '
                         f'metafiles; benchmarks: {names}')
    return found


def _cell(mean: float, std: float) -> str:
    """``mean ± std``; the mean alone without a std; ``n/a`` without a
    mean."""
    if np.isnan(mean):
        return 'n/a'
    return f'{mean:.2f}' if np.isnan(std) else f'{mean:.2f} ± {std:.2f}'


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` (sample std) of the finite values; one value alone;
    ``n/a`` without any."""
    return _cell(*_finite_mean_std(values))


def _published(entry: Optional[Entry]) -> str:
    if entry is None or not entry.published:
        return '-'
    return ' / '.join(f'{entry.published[c]:.2f}'
                      for c in COLUMNS if c in entry.published)


def render_table(runs: Dict[str, Row],
                 configs: Dict[str, str],
                 entries: Dict[str, Entry]) -> str:
    """The markdown leaderboard: one row per config, grouped by backbone.

    Args:
        runs: config name -> the metrics of each seed (None: not run), or
            a :class:`Summary`.
        configs: config name -> config path shown in the row.
        entries: metafile entries by config name (rows without one are
            labelled by their config name).

    Returns:
        str: The table; a ``published`` column is added when a row has a
        published number.
    """
    backbones: List[str] = []
    for name in runs:
        backbone = entries[name].backbone if name in entries else '-'
        if backbone not in backbones:
            backbones.append(backbone)
    with_published = any(entries.get(n) and entries[n].published
                         for n in runs)
    header = ['backbone', 'method', 'config', 'seeds', *HEADERS]
    if with_published:
        header.append('published (total / head / medium / tail)')
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for backbone in backbones:
        for name, seeds in runs.items():
            entry = entries.get(name)
            if (entry.backbone if entry else '-') != backbone:
                continue
            num, means, stds = row_stats(seeds)
            seeds_cell = f'{num} (summary)' if isinstance(seeds, Summary) \
                else str(num)
            cells = [backbone, entry.method if entry else name,
                     f'`{osp.basename(configs[name])}`', seeds_cell]
            cells += [_cell(m, s) if num else 'not run'
                      for m, s in zip(means, stds)]
            if with_published:
                cells.append(_published(entry))
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def block_markers(benchmark: str) -> tuple:
    """The comment lines around a generated table in a markdown file."""
    return (f'<!-- benchmark_table {benchmark}: generated by '
            'tools/analysis_tools/benchmark_table.py, do not edit -->',
            f'<!-- end benchmark_table {benchmark} -->')


def read_block(text: str, benchmark: str) -> Optional[str]:
    """The table between the markers of ``benchmark`` in ``text``."""
    start, end = (re.escape(m) for m in block_markers(benchmark))
    match = re.search(f'{start}\n(.*?)\n{end}', text, re.S)
    return match.group(1) if match else None


def replace_block(text: str, benchmark: str, table: str) -> str:
    """``text`` with the table between the markers of ``benchmark``
    replaced by ``table``."""
    if read_block(text, benchmark) is None:
        raise ValueError(f'no {benchmark} block (markers '
                         f'{block_markers(benchmark)})')
    start, end = block_markers(benchmark)
    pattern = f'{re.escape(start)}\n.*?\n{re.escape(end)}'
    return re.sub(pattern, lambda _: f'{start}\n{table}\n{end}', text,
                  flags=re.S)


def plot_groups(runs: Dict[str, Row],
                entries: Dict[str, Entry], path: str, title: str) -> None:
    """Per-group mAP of each config as grouped bars (mean, sample-std error
    bars), saved as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = [n for n, row in runs.items() if row_stats(row)[0]]
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=110)
    width = 0.8 / max(len(names), 1)
    colours = plt.get_cmap('tab20').colors
    for k, name in enumerate(names):
        _, mean, std = row_stats(runs[name])
        entry = entries.get(name)
        label = f'{entry.method} ({entry.backbone})' if entry else name
        ax.bar(np.arange(len(COLUMNS)) + (k - (len(names) - 1) / 2) * width,
               mean, width, yerr=np.nan_to_num(std), capsize=2, label=label,
               color=colours[k % len(colours)])
    ax.set_xticks(np.arange(len(COLUMNS)), HEADERS)
    ax.set_ylabel('mAP (%)')
    ax.set_title(title)
    ax.legend(fontsize=7, loc='center left', bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, metadata={'Software': None})
    plt.close(fig)
