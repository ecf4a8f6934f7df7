# Copyright (c) mmltml contributors. All rights reserved.
"""Refuse a checkpoint that does not fit the model, before it is loaded."""
from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint
from mmpretrain.registry import HOOKS

from mmltml.engine.checkpoint_fit import check_checkpoint_fits


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Stop a run whose checkpoint does not fit its model.

    mmengine calls ``after_load_checkpoint`` with every checkpoint a Runner
    loads (``tools/test.py CONFIG CKPT``, ``load_from``, ``--resume``)
    before it loads the weights, non-strictly: a checkpoint of another
    class count or CLIP model would only log a warning and leave those
    weights at their initial values. This hook raises
    :class:`~mmltml.engine.checkpoint_fit.CheckpointMismatchError` instead,
    naming the keys, both shapes and the likely cause (see
    :func:`~mmltml.engine.checkpoint_fit.check_checkpoint_fits`; frozen
    CLIP towers that checkpoints leave out are not required).

    Registered by the default runtime in ``default_hooks`` as
    ``checkpoint_fit``. To start training from the part of another
    model's checkpoint that fits, use ``model.init_cfg=dict(type=
    'Pretrained', checkpoint=...)`` instead of ``load_from``.
    """

    priority = 'VERY_HIGH'  # before EMAHook copies the weights

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check ``checkpoint`` against the runner's model."""
        check_checkpoint_fits(runner.model, checkpoint,
                              self._filename(runner), runner.cfg)

    @staticmethod
    def _filename(runner) -> str:
        """The file the runner loads (``load_from``, or the latest
        checkpoint of the work dir when resuming automatically)."""
        load_from = runner.cfg.get('load_from')
        if load_from:
            return str(load_from)
        return str(find_latest_checkpoint(runner.work_dir) or
                   f'the latest checkpoint of {runner.work_dir}')
