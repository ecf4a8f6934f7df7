# Copyright (c) mmltml contributors. All rights reserved.
from .dual_view_features import DualViewFeatures
from .hierarchical_prompts import HierarchicalPrompts, HierarchicalTextFeatures
from .prompt_learner import PromptFeatures, PromptLearner

__all__ = [
    'DualViewFeatures', 'HierarchicalPrompts', 'HierarchicalTextFeatures',
    'PromptFeatures', 'PromptLearner'
]
