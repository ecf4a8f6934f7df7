# Copyright (c) mmltml contributors. All rights reserved.
from .dual_view_features import DualViewFeatures
from .gcn_text_adapter import GCNTextAdapter, GraphConvolution
from .hierarchical_prompts import HierarchicalPrompts, HierarchicalTextFeatures
from .prompt_learner import PromptFeatures, PromptLearner

__all__ = [
    'DualViewFeatures', 'GCNTextAdapter', 'GraphConvolution',
    'HierarchicalPrompts', 'HierarchicalTextFeatures', 'PromptFeatures',
    'PromptLearner'
]
