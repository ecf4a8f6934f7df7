# Copyright (c) mmltml contributors. All rights reserved.
"""In-process runs of tool configs for the reliability tests.

``build_runner_from`` builds a Runner from a config file the way
``tools/train.py`` does (same launch helpers), in the
test process, so a test pays the import of the OpenMMLab stack once.
"""
import copy
import os
import os.path as osp
import signal
import uuid
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmltml.utils.launch import build_runner, set_dataloader_defaults

RESUMABLE_LOOP = 'ResumableEpochBasedTrainLoop'


class Interrupted(RuntimeError):
    """Raised by :class:`InterruptAtIterHook` (a crash after a checkpoint)."""


@HOOKS.register_module(force=True)
class RecordInitialStateHook(Hook):
    """Keep the model state the first iteration starts from (after weight
    initialisation), to show that a run changed it."""

    def before_train(self, runner) -> None:
        self.state = model_state(runner)


def initial_state(runner) -> Dict[str, torch.Tensor]:
    """The state recorded by the run's :class:`RecordInitialStateHook`."""
    (hook, ) = [h for h in runner.hooks
                if isinstance(h, RecordInitialStateHook)]
    return hook.state


def assert_trained(runner) -> None:
    """Some parameter moved away from its initial value."""
    start, end = initial_state(runner), model_state(runner)
    moved = [k for k in start if start[k].is_floating_point()
             and not torch.equal(start[k], end[k])]
    assert moved, 'training left every weight at its initial value'


@HOOKS.register_module(force=True)
class InterruptAtIterHook(Hook):
    """Stop training right after iteration ``at_iter`` (1-based) has been
    trained and, if due, checkpointed (lowest priority: after
    ``CheckpointHook``): raise :class:`Interrupted` (in-process runs) or,
    with ``kill=True``, SIGKILL the process (runs of the tools)."""

    priority = 'LOWEST'

    def __init__(self, at_iter: int, kill: bool = False) -> None:
        self.at_iter = at_iter
        self.kill = kill

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 != self.at_iter:
            return
        if self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        raise Interrupted(f'interrupted after iteration {self.at_iter}')


@HOOKS.register_module(force=True)
class NaNLossOnRankHook(Hook):
    """Make the logged loss of one rank NaN at iteration ``at_iter``
    (1-based), before :class:`FiniteLossHook` looks at it."""

    priority = 'HIGH'

    def __init__(self, rank: int, at_iter: int) -> None:
        self.rank = rank
        self.at_iter = at_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.at_iter and runner.rank == self.rank:
            outputs['loss'] = torch.tensor(float('nan'))


def build_runner_from(cfg_path: str,
                      work_dir: str,
                      resume: bool = False,
                      options: Optional[Dict] = None):
    """A Runner for ``cfg_path`` as ``tools/train.py`` would build it.

    ``options`` are ``--cfg-options`` style overrides; ``resume`` resumes
    from the latest checkpoint of ``work_dir`` (``--resume``).
    """
    cfg = Config.fromfile(cfg_path)
    if options:
        cfg.merge_from_dict(copy.deepcopy(options))
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    # a unique name: mmengine shares MessageHub / logger instances by name
    cfg.experiment_name = f'{osp.basename(work_dir)}_{uuid.uuid4().hex[:8]}'
    if resume:
        cfg.resume = True
        cfg.load_from = None
    set_dataloader_defaults(cfg)
    return build_runner(cfg)


def val_metrics(runner) -> Dict[str, float]:
    """The last validation metrics of a training run."""
    return {
        key: buffer.current()
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith('val/') and not key.endswith('time')
    }


def model_state(runner) -> Dict[str, torch.Tensor]:
    """A copy of the model's state dict (parameters and buffers)."""
    state = runner.model.state_dict()
    return {key: value.detach().clone() for key, value in state.items()}


def assert_same_state(a: Dict[str, torch.Tensor],
                      b: Dict[str, torch.Tensor]) -> None:
    """Bitwise equal state dicts."""
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def assert_same_metrics(a: Dict[str, float], b: Dict[str, float]) -> None:
    """Identical metrics (NaN equals NaN: a group without classes)."""
    assert a and a.keys() == b.keys()
    np.testing.assert_equal(a, b)
