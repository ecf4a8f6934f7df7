# Copyright (c) mmltml contributors. All rights reserved.
"""Store the training class statistics in every checkpoint."""
from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmltml.utils.checkpoint_stats import META_KEY, config_class_stats


@HOOKS.register_module()
class ClassStatsCheckpointHook(Hook):
    """Save the config's training class statistics in checkpoints.

    The statistics (class frequencies, negatives, co-occurrence, class
    names, group thresholds and the source they were computed from; see
    :func:`mmltml.utils.checkpoint_stats.config_class_stats`) go to
    ``checkpoint['meta']['class_stats']`` as plain lists and numbers, so
    ``tools/test.py CONFIG CKPT``, :class:`~mmltml.apis.MultiLabelInferencer`
    and ``tools/misc/predict.py`` work without the training list file.
    Configs without class statistics save nothing extra.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._stats: Optional[dict] = None

    def before_train(self, runner) -> None:
        """Compute the statistics once, from the run's config."""
        self._stats = config_class_stats(runner.cfg)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add the statistics to the checkpoint's ``meta``."""
        if self._stats is not None:
            checkpoint.setdefault('meta', {})[META_KEY] = self._stats
