# Copyright (c) mmltml contributors. All rights reserved.
from .class_count_check_hook import ClassCountCheckHook
from .feature_cache_hook import FeatureCacheHook, encoder_fingerprint
from .finite_loss_hook import FiniteLossHook
from .head_logits_hook import HeadLogitsHook, record_head_logits

__all__ = [
    'FeatureCacheHook', 'encoder_fingerprint', 'ClassCountCheckHook',
    'FiniteLossHook', 'HeadLogitsHook', 'record_head_logits'
]
