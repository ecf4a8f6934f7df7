# Copyright (c) mmltml contributors. All rights reserved.
from .class_count_check_hook import ClassCountCheckHook
from .class_stats_checkpoint_hook import ClassStatsCheckpointHook
from .feature_cache_hook import FeatureCacheHook, encoder_fingerprint
from .finite_loss_hook import FiniteLossHook

__all__ = [
    'FeatureCacheHook', 'encoder_fingerprint', 'ClassCountCheckHook',
    'FiniteLossHook', 'ClassStatsCheckpointHook'
]
