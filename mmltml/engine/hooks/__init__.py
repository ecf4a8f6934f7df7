# Copyright (c) mmltml contributors. All rights reserved.
from .feature_cache_hook import FeatureCacheHook, encoder_fingerprint

__all__ = ['FeatureCacheHook', 'encoder_fingerprint']
