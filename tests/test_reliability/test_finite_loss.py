# Copyright (c) mmltml contributors. All rights reserved.
"""FiniteLossHook: a NaN / inf loss stops training with a message naming
the iteration, epoch and loss terms, and never reaches a checkpoint."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmltml.engine.hooks import ClassCountCheckHook, FiniteLossHook
from tests._tiny_setup import RUNTIME


class TwoLossModel(BaseModel):
    """A linear model with two loss terms; ``loss_cse`` becomes ``bad`` at
    training step ``bad_step`` (0-based), ``loss_cls`` stays finite."""

    def __init__(self, bad_step: int, bad: float) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.bad_step, self.bad, self.step = bad_step, bad, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode != 'loss':
            return out
        loss_cse = out.abs().mean()
        if self.step == self.bad_step:
            loss_cse = loss_cse * self.bad
        self.step += 1
        return dict(loss_cls=(out - 1).pow(2).mean(), loss_cse=loss_cse,
                    cse_active_neg=torch.tensor(float('nan')))


def _train(work_dir, checkpoint, bad_step=6, bad=float('nan')):
    runner = Runner(
        model=TwoLossModel(bad_step, bad),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=[dict(inputs=torch.full((2, ), float(i)))
                     for i in range(8)],
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        default_hooks=dict(
            checkpoint=checkpoint, finite_loss=FiniteLossHook()),
        experiment_name=osp.basename(work_dir))
    with pytest.raises(FloatingPointError) as info:
        runner.train()
    return str(info.value)


def _weights(path):
    return torch.load(path, weights_only=False)['state_dict']


def test_nan_loss_stops_before_the_epoch_checkpoint(tmp_path):
    work_dir = str(tmp_path)
    message = _train(work_dir, CheckpointHook(interval=1))
    # 4 batches per epoch: step 6 is iteration 7 = epoch 2, batch 3
    assert 'iteration 7 (epoch 2, batch 3/4)' in message
    assert 'loss_cse=nan' in message and 'loss=nan' in message
    assert 'loss_cls' not in message  # finite terms are not blamed
    assert 'cse_active_neg' not in message  # not a loss term
    assert f'{osp.join(work_dir, "epoch_1.pth")}, is kept' in message
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_1.pth')
    for value in _weights(osp.join(work_dir, 'epoch_1.pth')).values():
        assert torch.isfinite(value).all()


def test_inf_loss_is_not_checkpointed_by_iteration_checkpoints(tmp_path):
    work_dir = str(tmp_path)
    message = _train(work_dir, CheckpointHook(by_epoch=False, interval=1),
                     bad_step=5, bad=float('inf'))
    assert 'iteration 6 (epoch 2, batch 2/4)' in message
    assert 'loss_cse=inf' in message
    # the hook runs before CheckpointHook in after_train_iter
    assert osp.isfile(osp.join(work_dir, 'iter_5.pth'))
    assert not osp.exists(osp.join(work_dir, 'iter_6.pth'))
    for value in _weights(osp.join(work_dir, 'iter_5.pth')).values():
        assert torch.isfinite(value).all()


def test_no_checkpoint_yet_is_said(tmp_path):
    message = _train(str(tmp_path), CheckpointHook(interval=1), bad_step=0)
    assert 'iteration 1 (epoch 1, batch 1/4)' in message
    assert 'No checkpoint was saved before it' in message


def test_default_runtime_registers_the_hooks_in_default_hooks():
    # default_hooks is a dict, merged into child configs (custom_hooks
    # lists are replaced, e.g. by the CLIP dataset bases)
    hooks = Config.fromfile(RUNTIME).default_hooks
    assert hooks.finite_loss == dict(type='FiniteLossHook')
    assert hooks.class_count_check == dict(type='ClassCountCheckHook')
    assert FiniteLossHook.priority == 'ABOVE_NORMAL'
    assert ClassCountCheckHook.priority == 'HIGHEST'


@pytest.mark.parametrize('local_bad, other_bad', [(False, True),
                                                  (True, False),
                                                  (False, False)])
def test_every_rank_stops_when_any_rank_sees_a_non_finite_loss(
        monkeypatch, tmp_path, local_bad, other_bad):
    """A simulated 2-rank run: the flag is summed over the ranks, so this
    rank stops when the other one failed (and says so), and continues only
    when both losses are finite."""
    from types import SimpleNamespace

    from mmltml.engine.hooks import finite_loss_hook
    reduced = []

    def fake_all_reduce(flag):
        reduced.append(float(flag))
        flag.add_(float(other_bad))  # the other rank's contribution

    monkeypatch.setattr(finite_loss_hook, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(finite_loss_hook, 'all_reduce', fake_all_reduce)
    runner = SimpleNamespace(iter=4, train_loop=None, work_dir=str(tmp_path))
    loss = torch.tensor(float('nan') if local_bad else 0.5)
    outputs = dict(loss=loss, loss_cls=loss, acc=torch.tensor(1.0))
    if not (local_bad or other_bad):
        FiniteLossHook().after_train_iter(runner, 0, outputs=outputs)
    else:
        with pytest.raises(FloatingPointError) as info:
            FiniteLossHook().after_train_iter(runner, 0, outputs=outputs)
        message = str(info.value)
        assert 'iteration 5' in message
        if local_bad:
            assert 'loss=nan' in message and 'loss_cls=nan' in message
        else:
            assert 'on another rank' in message and 'rank 1' in message
    assert reduced == [float(local_bad)]  # one all-reduce per iteration
