# Copyright (c) mmltml contributors. All rights reserved.
"""A trained checkpoint is tested and used for prediction without its
training list file (its class statistics travel in the checkpoint), with
the same metrics; a different list file is refused, naming both sources.

Synthetic benchmark (no official split files needed), one LMPT epoch.
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from mmltml.benchmarks.synthetic import generate_synthetic_lt
from tests._tiny_setup import REPO_ROOT, run_tool

TOOLS = osp.join(REPO_ROOT, 'tools')
CONFIG = 'configs/synthetic/lmpt_tinyclip_synthetic.py'
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpt_stats')
    for name in ('configs', 'checkpoints'):
        os.symlink(osp.join(REPO_ROOT, name), root / name)
    generate_synthetic_lt(str(root / 'data' / 'synthetic'), seed=0,
                          max_train_count=60, test_per_class=10)
    run_tool([osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir', 'work',
              '--cfg-options', 'train_cfg.max_epochs=1'], str(root))
    return root, str(root / 'work' / 'epoch_1.pth')


def _test_metrics(root, ckpt, name):
    run_tool([osp.join(TOOLS, 'test.py'), CONFIG, ckpt, '--work-dir', 'work',
              '--out', name, '--out-item', 'metrics'], str(root))
    with open(root / name) as f:
        return json.load(f)


def _predict(root, ckpt, image):
    proc = run_tool([osp.join(TOOLS, 'misc', 'predict.py'), CONFIG, ckpt,
                     image, '--topk', '3', '--json'], str(root))
    return json.loads(proc.stdout.strip().splitlines()[-1])['predictions']


def test_checkpoint_without_the_training_list_file(trained, monkeypatch):
    root, ckpt = trained
    train_list = root / 'data' / 'synthetic' / 'train.txt'
    stored = torch.load(ckpt, weights_only=False)['meta']['class_stats']
    with open(train_list) as f:
        counts = np.zeros(stored['num_classes'], dtype=int)
        for line in f:
            counts[[int(i) for i in line.split()[1:]]] += 1
    assert stored['class_freq'] == counts.tolist()

    with open(root / 'data' / 'synthetic' / 'test.txt') as f:
        image = osp.join('data', 'synthetic', f.readline().split()[0])
    before = _test_metrics(root, ckpt, 'with_list.json')
    predicted = _predict(root, ckpt, image)
    shutil.move(train_list, root / 'moved.txt')
    try:
        assert _test_metrics(root, ckpt, 'without_list.json') == before
        assert _predict(root, ckpt, image) == predicted
        from mmltml.apis import MultiLabelInferencer
        monkeypatch.chdir(root)
        result = MultiLabelInferencer(CONFIG, pretrained=ckpt, topk=3)(
            image)[0]
        assert [[name, pytest.approx(score, abs=1e-6),
                 pytest.approx(logit, abs=1e-4)]
                for name, score, logit in zip(
                    result['pred_classes'], result['pred_label_scores'],
                    result['pred_label_logits'])] == predicted
    finally:
        shutil.move(root / 'moved.txt', train_list)


def test_a_different_training_list_file_is_an_error(trained):
    root, ckpt = trained
    train_list = root / 'data' / 'synthetic' / 'train.txt'
    original = train_list.read_text()
    train_list.write_text(''.join(original.splitlines(True)[1:]))
    try:
        with pytest.raises(AssertionError) as failure:
            _test_metrics(root, ckpt, 'other.json')
    finally:
        train_list.write_text(original)
    message = str(failure.value)
    assert 'class statistics disagree' in message
    assert 'data/synthetic/train.txt' in message and ckpt in message
