# Copyright (c) mmltml contributors. All rights reserved.
from .gcn_text_adapter import GCNTextAdapter, GraphConvolution
from .prompt_learner import PromptFeatures, PromptLearner

__all__ = [
    'GCNTextAdapter', 'GraphConvolution', 'PromptFeatures', 'PromptLearner'
]
