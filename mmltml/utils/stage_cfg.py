# Copyright (c) mmltml contributors. All rights reserved.
"""Recipes in stages: a config that continues the training of another.

A later stage (e.g. HP-DVAL's stage 2, which trains prompts on the frozen
student of stage 1) names the config it continues in the top-level key
``previous_stage`` (a path relative to the config file) and starts from
that stage's checkpoint through mmengine's ``load_from`` (the weights only:
a fresh optimiser and schedule). ``tools/train.py`` refuses such a config
without ``load_from`` (or ``--resume`` of the stage itself), and
``tools/analysis_tools/benchmark_table.py`` trains the previous stage
first, with the same seed, and passes its last checkpoint on.
"""
import os.path as osp
from typing import Optional

from mmengine.config import Config

#: Top-level config key naming the config a stage continues.
PREVIOUS_STAGE = 'previous_stage'


def previous_stage(cfg: Config, config_path: str) -> Optional[str]:
    """The path of the config ``cfg`` (read from ``config_path``)
    continues, or None; relative paths are relative to ``config_path``'s
    folder.

    Raises:
        FileNotFoundError: when the named config does not exist.
    """
    name = cfg.get(PREVIOUS_STAGE)
    if name is None:
        return None
    path = osp.normpath(osp.join(osp.dirname(osp.abspath(config_path)),
                                 name))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{config_path}: {PREVIOUS_STAGE}={name!r} names no config '
            f'file ({path})')
    return path


def check_previous_stage(cfg: Config, config_path: str) -> None:
    """Refuse to train a later stage from scratch.

    Raises:
        ValueError: when ``cfg`` names a ``previous_stage`` but neither
            ``load_from`` nor ``resume`` is set, with the command line that
            gives it the previous stage's checkpoint.
    """
    path = previous_stage(cfg, config_path)
    if path is None or cfg.get('load_from') or cfg.get('resume'):
        return
    raise ValueError(
        f'{config_path} continues {path} ({PREVIOUS_STAGE}) and starts from '
        'its checkpoint: train that config first and pass its last '
        'checkpoint, e.g. --cfg-options load_from=<its work dir>/epoch_N.pth '
        '(tools/analysis_tools/benchmark_table.py does both).')
