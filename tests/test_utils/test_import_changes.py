# Copyright (c) mmltml contributors. All rights reserved.
"""What ``import mmltml`` changes outside mmltml is exactly the table
"What ``import mmltml`` changes" of ``docs/en/design.md``, and each row's
switch (``MMLTML_NO_PATCH``) keeps that change stock.

Each case imports mmltml in a fresh interpreter (``_import_probe.py``),
after mmengine, mmpretrain and torch, and observes every replaced public
attribute of their modules, torch's safe globals, the warning filters,
mmpretrain's model hub and every registry.
"""
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys
from importlib import metadata

import pytest

from tests._markdown import table_rows

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROBE = osp.join(osp.dirname(osp.abspath(__file__)), '_import_probe.py')
DESIGN = osp.join(REPO_ROOT, 'docs', 'en', 'design.md')
#: a target in the table: a dotted name in one of these namespaces
TARGET = re.compile(r'^(mmengine|mmpretrain|mmcv|torch|warnings|sys)\b\S*$')


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def _applies_here(switch: str) -> bool:
    """Whether the row's "When" holds in this environment and probe (the
    probe imports mmpretrain before mmltml)."""
    return {
        'mmcv_lite_warning': _installed('mmcv-lite') and not _installed(
            'mmcv'),
        'transformers_guard': False,  # mmpretrain is imported first
        'package_utils': importlib.util.find_spec('pkg_resources') is None,
        'safe_globals': True,
        'model_index': osp.isfile(osp.join(REPO_ROOT, 'model-index.yml')),
        'inference_model': True,
    }[switch]


def _table() -> dict:
    """``{switch: set of targets}`` of the design doc's table."""
    with open(DESIGN, encoding='utf-8') as f:
        rows = table_rows(f.read(), '| Switch | Changes |')
    table = {}
    for row in rows:
        switch = row[0].strip('`')
        table[switch] = {
            name for name in re.findall(r'`([^`]+)`', row[1])
            if TARGET.match(name)
        }
    return table


def _probe(no_patch: str = '') -> dict:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('MMLTML_NO_PATCH', None)
    if no_patch:
        env['MMLTML_NO_PATCH'] = no_patch
    result = subprocess.run([sys.executable, PROBE], env=env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _expected(table: dict, off=()) -> set:
    return {
        target
        for switch, targets in table.items()
        if switch not in off and _applies_here(switch) for target in targets
    }


def _only_new_registry_names(observed: dict) -> None:
    assert observed['registry_replaced'] == []
    assert observed['registry_shadowed'] == []
    assert all(m.startswith('mmltml.')
               for m in observed['registry_added_modules'])
    # the shipped configs name mmltml's replacements
    assert {'mmltml.engine.hooks.atomic_checkpoint_hook',
            'mmltml.engine.runners.resumable_epoch_based_train_loop'
            } <= set(observed['registry_added_modules'])


def test_the_table_names_every_switch_of_the_code():
    from mmltml.utils.patches import PATCHES
    table = _table()
    assert list(table) == list(PATCHES)
    assert all(targets for switch, targets in table.items()
               if switch != 'transformers_guard')


def test_import_changes_exactly_what_the_table_says():
    table = _table()
    observed = _probe()
    assert set(observed['replaced']) == _expected(table)
    _only_new_registry_names(observed)


def test_all_switches_off_leave_only_new_registry_names():
    observed = _probe('all')
    assert observed['replaced'] == []
    _only_new_registry_names(observed)


@pytest.mark.slow
@pytest.mark.parametrize('switch', [
    'mmcv_lite_warning', 'package_utils', 'safe_globals', 'model_index',
    'inference_model'
])
def test_each_switch_keeps_its_row_stock(switch):
    table = _table()
    observed = _probe(switch)
    assert set(observed['replaced']) == _expected(table, off={switch})


def test_unknown_switch_is_refused():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT,
               MMLTML_NO_PATCH='inference_model,checkpoint')
    result = subprocess.run(
        [sys.executable, '-c', 'import mmltml.utils.patches as p; '
         'p.disabled_patches()'],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "unknown ['checkpoint']" in result.stderr
    assert "'inference_model'" in result.stderr


def test_a_config_naming_the_stock_checkpoint_hook_gets_mmengine_s():
    from mmengine.hooks import CheckpointHook
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import HOOKS

    from mmltml.engine.hooks import AtomicCheckpointHook
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        stock = HOOKS.build(dict(type='CheckpointHook', interval=1))
        ours = HOOKS.build(dict(type='AtomicCheckpointHook', interval=1))
    assert type(stock) is CheckpointHook
    assert type(ours) is AtomicCheckpointHook
