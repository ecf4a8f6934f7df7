# Copyright (c) mmltml contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .class_count_check_hook import ClassCountCheckHook
from .feature_cache_hook import FeatureCacheHook, encoder_fingerprint
from .feature_visualization_hook import FeatureVisualizationHook
from .finite_loss_hook import FiniteLossHook

__all__ = [
    'AtomicCheckpointHook', 'FeatureCacheHook', 'FeatureVisualizationHook',
    'encoder_fingerprint',
    'ClassCountCheckHook', 'FiniteLossHook'
]
