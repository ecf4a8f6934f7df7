# Copyright (c) mmltml contributors. All rights reserved.
"""Check common training options before a Runner is built.

mmengine answers three common mistakes late or not at all:

* ``--amp`` on a machine without an accelerator: an ``AssertionError``
  from deep inside ``AmpOptimWrapper``;
* a run shorter than a scheduler's ``begin`` (e.g. ``max_epochs=1`` with a
  one-epoch warm-up before a cosine schedule without ``end``): ``ValueError:
  end should be larger than begin``, naming neither the scheduler nor the
  option to change;
* ``--resume`` with nothing to resume: the run silently starts from
  scratch.

``tools/train.py`` calls :func:`check_run_options` (one ``ValueError``
line that says what to do) and logs :func:`resume_note`.
"""
import glob
import os.path as osp
from typing import Any, Optional

from mmengine.device import (is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.runner import find_latest_checkpoint

AMP_WRAPPER = 'AmpOptimWrapper'


def _type_name(type_: Any) -> str:
    return type_ if isinstance(type_, str) else getattr(
        type_, '__name__', str(type_))


def check_amp(cfg) -> None:
    """Refuse ``AmpOptimWrapper`` (``--amp``) without a GPU, NPU, MLU or
    MUSA device (mmengine's ``AmpOptimWrapper`` asserts one)."""
    wrapper = cfg.get('optim_wrapper') or {}
    if _type_name(wrapper.get('type')) != AMP_WRAPPER:
        return
    if is_cuda_available() or is_npu_available() or is_mlu_available() or \
            is_musa_available():
        return
    raise ValueError(
        "--amp (optim_wrapper.type='AmpOptimWrapper') needs a GPU (CUDA, "
        'NPU, MLU or MUSA) and this machine has none: train without --amp '
        '(mixed precision is for accelerators; CPU runs train in fp32)')


def _schedulers(cfg) -> list:
    schedulers = cfg.get('param_scheduler') or []
    return [schedulers] if isinstance(schedulers, dict) else list(schedulers)


def check_schedule(cfg) -> None:
    """Refuse a scheduler that would get no step to run.

    mmengine gives a scheduler without ``end`` the end of training
    (``train_cfg.max_epochs``, or ``max_iters`` for an iteration-based
    scheduler of an iteration-based loop) and refuses ``end <= begin``.
    Checked here for every scheduler whose ``begin`` and ``end`` are known
    from the config, naming it and what to change.
    """
    train_cfg = cfg.get('train_cfg') or {}
    max_epochs = train_cfg.get('max_epochs')
    max_iters = train_cfg.get('max_iters')
    for idx, sched in enumerate(_schedulers(cfg)):
        if not isinstance(sched, dict):
            continue
        by_epoch = sched.get('by_epoch', True)
        unit = 'epoch' if by_epoch else 'iteration'
        length = max_epochs if by_epoch else max_iters
        begin = sched.get('begin', 0)
        end = sched.get('end', length)
        if end is None or end > begin:
            continue
        name = f'param_scheduler[{idx}] ({_type_name(sched.get("type"))})'
        if 'end' in sched:
            raise ValueError(
                f'{name} has begin={begin} and end={end}: make its end '
                'larger than its begin')
        option = 'max_epochs' if by_epoch else 'max_iters'
        raise ValueError(
            f'{name} starts at {unit} {begin}, but training ends after '
            f'{option}={length}, so it would never run (mmengine: "end '
            f'should be larger than begin"): train longer (--cfg-options '
            f'train_cfg.{option}={begin + 1} or more), or shorten what '
            f'comes before it (its begin={begin}, e.g. a warm-up)')


def check_resume_target(cfg) -> None:
    """Refuse ``--resume PATH`` of a file that does not exist."""
    load_from = cfg.get('load_from')
    if not cfg.get('resume') or not load_from or '://' in str(load_from):
        return
    if not osp.isfile(load_from):
        raise ValueError(f'--resume {load_from}: no such checkpoint file')


def check_run_options(cfg) -> None:
    """:func:`check_amp`, :func:`check_schedule` and
    :func:`check_resume_target`.

    Raises:
        ValueError: one line that names the option and says what to do.
    """
    check_amp(cfg)
    check_schedule(cfg)
    check_resume_target(cfg)


def resume_note(cfg) -> Optional[str]:
    """What ``--resume`` without a path does when the work dir holds no
    checkpoint to resume: as in mmengine and mmpretrain, the run starts
    from scratch (so a job script may always pass ``--resume``); the note
    says so, and names checkpoints that are there but not recorded as the
    latest (``last_checkpoint``), which ``--resume PATH`` can resume."""
    if not cfg.get('resume') or cfg.get('load_from'):
        return None
    work_dir = cfg.get('work_dir')
    if find_latest_checkpoint(work_dir) is not None:
        return None
    found = sorted(glob.glob(osp.join(work_dir, '*.pth')))
    note = (f'--resume: no checkpoint to resume in {work_dir} (no '
            'last_checkpoint file there): starting a new run from scratch')
    if found:
        note += (f'; to resume one of {", ".join(map(osp.basename, found))}'
                 f', pass it: --resume {found[-1]}')
    return note
