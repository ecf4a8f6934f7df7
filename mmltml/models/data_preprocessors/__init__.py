# Copyright (c) mmltml contributors. All rights reserved.
from .cached_feature_preprocessor import (CachedFeaturePreprocessor,
                                          is_feature_batch)

__all__ = ['CachedFeaturePreprocessor', 'is_feature_batch']
