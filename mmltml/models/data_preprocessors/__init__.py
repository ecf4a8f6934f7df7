# Copyright (c) mmltml contributors. All rights reserved.
from .cached_feature_preprocessor import CachedFeaturePreprocessor

__all__ = ['CachedFeaturePreprocessor']
