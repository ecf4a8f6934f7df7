# Copyright (c) mmltml contributors. All rights reserved.
"""Class statistics stored in a checkpoint stand in for a missing training
list file; a present one that disagrees is an error naming both."""
import os
from collections import Counter
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from mmltml.datasets import load_class_stats
from mmltml.engine.hooks import ClassStatsCheckpointHook
from mmltml.evaluation.metrics import GroupMAP
from mmltml.utils.checkpoint_stats import (apply_checkpoint_class_stats,
                                           config_class_stats)

LINES = ['a.jpg 0 1', 'b.jpg 1', 'c.jpg 1 2', 'd.jpg 1', 'e.jpg 0']


def write_split(root, lines=LINES):
    (root / 'train.txt').write_text('\n'.join(lines) + '\n')
    (root / 'labels.txt').write_text('cat 0\ndog 1\nbird 2\n')


def make_cfg(root, **thresholds):
    ref = dict(ann_file=str(root / 'train.txt'),
               label_file=str(root / 'labels.txt'), **thresholds)
    return Config(dict(
        class_stats=ref,
        default_hooks=dict(class_stats=dict(type='ClassStatsCheckpointHook')),
        model=dict(head=dict(loss=dict(type='DBLoss', class_stats=ref))),
        val_evaluator=[dict(type='GroupMAP', class_stats=ref)]))


def save_checkpoint(cfg, path):
    """What the hook saves, from the run's config, in a checkpoint that
    loads under weights_only=True."""
    hook = ClassStatsCheckpointHook()
    hook.before_train(SimpleNamespace(cfg=cfg))
    checkpoint = dict(state_dict={'w': torch.zeros(1)})
    hook.before_save_checkpoint(None, checkpoint)
    torch.save(checkpoint, path)
    return checkpoint


def hand_counts(lines=LINES):
    counts = Counter(int(i) for line in lines for i in line.split()[1:])
    return [counts[c] for c in range(3)]


def test_stored_statistics_replace_a_missing_list_file(tmp_path):
    write_split(tmp_path)
    cfg = make_cfg(tmp_path, head_thr=3, tail_thr=2)
    saved = save_checkpoint(cfg, tmp_path / 'ckpt.pth')
    stored = saved['meta']['class_stats']
    assert stored['class_freq'] == hand_counts() == [2, 4, 1]
    assert stored['classes'] == ['cat', 'dog', 'bird']
    assert stored['source'] == str(tmp_path / 'train.txt')
    assert torch.load(tmp_path / 'ckpt.pth', weights_only=True)[
        'meta']['class_stats'] == stored

    os.remove(tmp_path / 'train.txt')
    replaced = apply_checkpoint_class_stats(cfg, str(tmp_path / 'ckpt.pth'))
    assert replaced == ['class_stats', 'model.head.loss.class_stats',
                        'val_evaluator[0].class_stats']
    stats = load_class_stats(cfg.model.head.loss.class_stats)
    assert stats['class_freq'] == [2, 4, 1] and stats['num_images'] == 5
    # the reference's own thresholds still split the groups
    assert stats['groups'] == dict(head=[1], medium=[0], tail=[2])
    metric = GroupMAP(**{k: v for k, v in cfg.val_evaluator[0].items()
                         if k != 'type'})
    assert metric.stats['classes'] == ['cat', 'dog', 'bird']
    assert metric.stats['condition_prob'][2] == [0.0, 1.0, 1.0]


def test_present_list_file_wins_and_must_agree(tmp_path):
    write_split(tmp_path)
    cfg = make_cfg(tmp_path)
    save_checkpoint(cfg, tmp_path / 'ckpt.pth')
    assert apply_checkpoint_class_stats(cfg, str(tmp_path / 'ckpt.pth')) == []
    assert cfg.class_stats.ann_file == str(tmp_path / 'train.txt')

    write_split(tmp_path, LINES[:-1])  # another training set
    with pytest.raises(ValueError) as error:
        apply_checkpoint_class_stats(make_cfg(tmp_path),
                                     str(tmp_path / 'ckpt.pth'))
    message = str(error.value)
    assert 'num_images' in message and str(tmp_path / 'ckpt.pth') in message
    assert message.count(str(tmp_path / 'train.txt')) == 2  # both sources


def test_checkpoint_without_statistics_changes_nothing(tmp_path):
    write_split(tmp_path)
    cfg = make_cfg(tmp_path)
    torch.save(dict(state_dict={}, meta={}), tmp_path / 'old.pth')
    os.remove(tmp_path / 'train.txt')
    assert apply_checkpoint_class_stats(cfg, str(tmp_path / 'old.pth')) == []
    assert config_class_stats(cfg) is None  # nothing to store either
    with pytest.raises(FileNotFoundError, match='train.txt'):
        load_class_stats(cfg.class_stats)
