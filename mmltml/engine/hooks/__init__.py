# Copyright (c) mmltml contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_fit_hook import CheckpointFitHook
from .class_count_check_hook import ClassCountCheckHook
from .class_stats_checkpoint_hook import ClassStatsCheckpointHook
from .feature_cache_hook import FeatureCacheHook
from .feature_visualization_hook import FeatureVisualizationHook
from .finite_loss_hook import FiniteLossHook
from .head_logits_hook import HeadLogitsHook, record_head_logits

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'ClassCountCheckHook',
    'ClassStatsCheckpointHook', 'FeatureCacheHook', 'FeatureVisualizationHook',
    'FiniteLossHook', 'HeadLogitsHook', 'record_head_logits'
]
