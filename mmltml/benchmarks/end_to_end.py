# Copyright (c) mmltml contributors. All rights reserved.
"""A config's whole recipe through ``tools/train.py``, twice: the
**reference** path (:func:`~mmltml.benchmarks.feature_cache.
reference_config`) and the **fast** path (the config as it is); wall times
and final group-mAP tables. Stand-in JPEGs replace missing images."""
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Callable, Dict, Tuple

import numpy as np
from mmengine.config import Config

from .feature_cache import LOADERS, reference_config

GROUP_KEYS = ('lt/mAP', 'lt/mAP_head', 'lt/mAP_medium', 'lt/mAP_tail')


def use_fake_images(cfg: Config, root: str, size: Tuple[int, int]) -> int:
    """Point every dataset of ``cfg`` at stand-in images under ``root``
    and write the missing ones; returns how many were written."""
    from mmpretrain.registry import DATASETS

    from mmltml.utils.dataset_cfg import leaf_dataset_cfgs
    from mmltml.utils.stand_in_images import write_stand_in_jpeg
    rng = np.random.default_rng(0)
    nodes = [
        node for name in LOADERS if cfg.get(name)
        for node in leaf_dataset_cfgs(cfg.get(name).dataset)
    ]
    written, listed = 0, set()
    for node in nodes:
        node.data_prefix = dict(img_path=osp.abspath(root))
        if repr(node) in listed:  # e.g. the test loader = the val loader
            continue
        listed.add(repr(node))
        dataset = DATASETS.build(copy.deepcopy(node))
        for index in range(len(dataset)):
            path = dataset.get_data_info(index)['img_path']
            if not osp.exists(path):
                write_stand_in_jpeg(path, size, rng)
                written += 1
    return written


def last_group_metrics(work_dir: str) -> dict:
    """The last evaluation's group mAPs of the newest run in ``work_dir``
    (mmengine's ``vis_data/scalars.json``)."""
    files = sorted(glob.glob(
        osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    last = {}
    if files:
        with open(files[-1]) as f:
            records = [json.loads(line) for line in f]
        last = next((r for r in reversed(records) if GROUP_KEYS[0] in r), {})
    if not last:
        raise RuntimeError(f'no {GROUP_KEYS[0]} was logged in {work_dir}; '
                           'does the config evaluate with GroupMAP?')
    # a group without evaluable classes is not logged (GroupMAP says why)
    return {key: last[key] for key in GROUP_KEYS if key in last}


def run_recipe(cfg: Config, work_dir: str, train_tool: str) -> dict:
    """Train ``cfg`` with ``train_tool`` (``tools/train.py``) in a
    subprocess; wall time and final metrics."""
    os.makedirs(work_dir, exist_ok=True)
    config_file = osp.join(work_dir, 'recipe_config.py')
    cfg.dump(config_file)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, train_tool, config_file, '--work-dir', work_dir],
        capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'{train_tool} {config_file} failed '
                           f'({proc.returncode}):\n{proc.stderr[-3000:]}')
    return dict(seconds=seconds, metrics=last_group_metrics(work_dir))


def compare_recipes(cfg: Config, work_dir: str, train_tool: str,
                    log: Callable[[str], None] = lambda _: None) -> dict:
    """Both paths of ``cfg`` (under ``work_dir/reference`` and
    ``work_dir/fast``): their runs, the speed-up and the largest metric
    difference."""
    runs: Dict[str, dict] = {}
    for path, path_cfg in (('reference', reference_config(cfg)),
                           ('fast', cfg)):
        log(f'{path} path: training the whole recipe')
        runs[path] = run_recipe(path_cfg, osp.join(work_dir, path),
                                train_tool)
        log(f'{path} path: {runs[path]["seconds"]:.1f} s')
    ref, fast = runs['reference']['metrics'], runs['fast']['metrics']
    if ref.keys() != fast.keys():
        raise RuntimeError(f'the paths evaluated different groups: '
                           f'{sorted(ref)} vs {sorted(fast)}')
    return dict(end_to_end=runs,
                speedup=runs['reference']['seconds'] /
                runs['fast']['seconds'],
                max_metric_diff=max(abs(ref[key] - fast[key])
                                    for key in ref))
