# Copyright (c) mmltml contributors. All rights reserved.
"""tools/model_converters/publish_model.py: the published file loads with
``torch.load(weights_only=True)`` in a process that never imports mmltml
(the training checkpoint does not), keeps the weights and the class
statistics, is named by its SHA-256, and tests to the same numbers.

The end-to-end test (train, publish, test with and without the training
list file) is ``slow``; the others publish a hand-made mmengine-shaped
checkpoint in-process.
"""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmltml.benchmarks.synthetic import generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT, run_tool

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters', 'publish_model.py')
TOOLS = osp.join(REPO_ROOT, 'tools')
CONFIG = 'configs/synthetic/lmpt_tinyclip_synthetic.py'
NAME = re.compile(r'^(?P<stem>.+)_(?P<date>\d{8})-(?P<sha>[0-9a-f]{8})\.pth$')

# Runs in a fresh interpreter without PYTHONPATH: loads the file
# weights-only and reports what it holds and which mm* modules it imported.
STOCK_LOADER = r"""
import json, sys, torch
ck = torch.load(sys.argv[1], map_location='cpu', weights_only=True)
print(json.dumps(dict(
    keys=sorted(ck), weights={k: list(v.shape)
                              for k, v in ck['state_dict'].items()},
    meta=ck['meta'],
    modules=sorted(m for m in sys.modules if m.split('.')[0] in (
        'mmengine', 'mmcv', 'mmpretrain', 'mmltml', 'open_clip')))))
"""


def load_in_stock_process(path):
    """``(returncode, parsed stdout or stderr)`` of :data:`STOCK_LOADER`."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([sys.executable, '-c', STOCK_LOADER, path],
                          cwd=osp.dirname(path), env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode:
        return proc.returncode, proc.stderr
    return 0, json.loads(proc.stdout)


def _tool_module():
    spec = importlib.util.spec_from_file_location('publish_model', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _published_file(out_dir):
    files = [f for f in os.listdir(out_dir) if NAME.match(f)]
    assert len(files) == 1, os.listdir(out_dir)
    return osp.join(out_dir, files[0])


@pytest.fixture
def training_checkpoint(tmp_path):
    """An mmengine-shaped training checkpoint: message hub with
    ``HistoryBuffer`` objects, optimizer, numpy values in the meta."""
    hub = MessageHub.get_instance('test_publish_model')
    hub.update_scalar('train/loss', 0.5)
    weights = dict(w=torch.arange(6.).reshape(2, 3), b=torch.ones(2))
    checkpoint = dict(
        meta=dict(epoch=3, seed=np.int64(7), lr=np.float32(0.5),
                  hist=np.arange(3), dataset_meta=dict(classes=('a', 'b')),
                  class_stats=dict(num_classes=2, class_freq=[5, 1])),
        state_dict=weights,
        message_hub=hub.state_dict(),
        optimizer=dict(state={}, param_groups=[dict(lr=0.1)]),
        param_schedulers=[dict(last_epoch=3)])
    path = str(tmp_path / 'epoch_3.pth')
    torch.save(checkpoint, path)
    return path, weights


def test_published_file_loads_without_mmltml(training_checkpoint, tmp_path):
    path, weights = training_checkpoint
    code, error = load_in_stock_process(path)
    assert code != 0 and 'Weights only load failed' in error  # the problem

    out_dir = tmp_path / 'pub'
    out_dir.mkdir()
    assert _tool_module().main([path, str(out_dir / 'model.pth')]) == 0
    final = _published_file(str(out_dir))
    match = NAME.match(osp.basename(final))
    assert match['stem'] == 'model'
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match['sha']

    code, loaded = load_in_stock_process(final)
    assert code == 0, loaded
    assert loaded['modules'] == []
    assert loaded['keys'] == ['meta', 'state_dict']
    assert loaded['weights'] == dict(w=[2, 3], b=[2])
    meta = loaded['meta']
    assert (meta['epoch'], meta['seed'], meta['lr'], meta['hist']) == (
        3, 7, 0.5, [0, 1, 2])
    assert meta['class_stats'] == dict(num_classes=2, class_freq=[5, 1])
    assert meta['dataset_meta'] == dict(classes=['a', 'b'])
    assert {'mmltml_version', 'mmpretrain_version'} <= set(meta)
    published = torch.load(final, weights_only=True)['state_dict']
    for key, value in weights.items():
        assert torch.equal(published[key], value)


def test_ema_weights(tmp_path):
    """``state_dict`` holds the EMA weights (EMAHook swaps them in before
    saving) and is published; ``--no-ema`` publishes the raw weights kept
    in ``ema_state_dict``."""
    ema, raw = torch.full((2, ), 2.), torch.full((2, ), 9.)
    path = str(tmp_path / 'ema.pth')
    torch.save(dict(meta=dict(), state_dict=dict(w=ema),
                    ema_state_dict={'module.w': raw,
                                    'steps': torch.tensor(4)}), path)
    tool = _tool_module()
    for flags, expected in (([], ema), (['--no-ema'], raw)):
        out_dir = tmp_path / f'out{len(flags)}'
        out_dir.mkdir()
        with pytest.warns(UserWarning, match='no training class statistics'):
            tool.main([path, str(out_dir / 'm.pth')] + flags)
        loaded = torch.load(_published_file(str(out_dir)), weights_only=True)
        assert set(loaded) == {'meta', 'state_dict'}
        assert torch.equal(loaded['state_dict']['w'], expected)


def test_class_stats_added_from_a_file(tmp_path):
    """``--class-stats``: statistics for a checkpoint that has none (e.g.
    from mmpretrain's own tools), counted from the labels here."""
    from mmltml.structures import compute_class_stats, save_class_stats
    labels = [[0], [0, 1], [0], [2]]
    stats_file = str(tmp_path / 'stats.json')
    save_class_stats(compute_class_stats(labels, 3, ['a', 'b', 'c']),
                     stats_file)
    path = str(tmp_path / 'stock.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=dict(w=torch.ones(1))),
               path)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    _tool_module().main([path, str(out_dir / 'm.pth'), '--class-stats',
                         stats_file])
    stored = torch.load(_published_file(str(out_dir)),
                        weights_only=True)['meta']['class_stats']
    assert stored['class_freq'] == [3, 1, 1]
    assert stored['num_images'] == 4 and stored['classes'] == ['a', 'b',
                                                               'c']
    assert stored['source'] == stats_file


def test_unpublishable_meta_is_named(tmp_path):
    path = str(tmp_path / 'odd.pth')
    torch.save(dict(meta=dict(hook_state=dict(when=HistoryBuffer([1.], [1])),
                              class_stats=dict(num_classes=1)),
                    state_dict=dict(w=torch.zeros(1))), path)
    tool = _tool_module()
    with pytest.raises(TypeError, match=r'meta\.hook_state\.when .*'
                       r'--drop-meta hook_state'):
        tool.main([path, str(tmp_path / 'm.pth')])
    tool.main([path, str(tmp_path / 'm.pth'), '--drop-meta', 'hook_state'])
    meta = torch.load(_published_file(str(tmp_path)),
                      weights_only=True)['meta']
    assert 'hook_state' not in meta


@pytest.mark.slow
def test_publish_train_test_roundtrip(tmp_path):
    """One LMPT epoch on a small synthetic benchmark; the published file
    loads without mmltml and gives the training checkpoint's test metrics,
    also without the training list file (statistics from its meta)."""
    root = tmp_path
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), root / name)
    generate_synthetic_lt(str(root / 'data' / 'synthetic'), seed=0,
                          max_train_count=30, test_per_class=5)
    run_tool([osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir', 'work',
              '--cfg-options', 'train_cfg.max_epochs=1'], str(root))
    ckpt = str(root / 'work' / 'epoch_1.pth')
    (root / 'pub').mkdir()
    run_tool([TOOL, ckpt, 'pub/lmpt_tinyclip_synthetic.pth'], str(root))
    final = _published_file(str(root / 'pub'))

    code, loaded = load_in_stock_process(final)
    assert code == 0, loaded
    assert loaded['modules'] == [] and loaded['keys'] == ['meta',
                                                          'state_dict']
    original = torch.load(ckpt, weights_only=True)
    assert loaded['meta']['class_stats'] == original['meta']['class_stats']
    assert loaded['weights'] == {k: list(v.shape)
                                 for k, v in original['state_dict'].items()}
    assert osp.getsize(final) < osp.getsize(ckpt)

    def metrics(checkpoint, name):
        run_tool([osp.join(TOOLS, 'test.py'), CONFIG, checkpoint,
                  '--work-dir', 'work_test', '--out', name, '--out-item',
                  'metrics'], str(root))
        with open(root / name) as f:
            return json.load(f)

    before = metrics(ckpt, 'training_checkpoint.json')
    assert set(before) >= {'lt/mAP', 'lt/mAP_tail'}
    assert metrics(final, 'published.json') == before
    train_list = root / 'data' / 'synthetic' / 'train.txt'
    shutil.move(train_list, root / 'moved.txt')
    assert metrics(final, 'published_no_list.json') == before
