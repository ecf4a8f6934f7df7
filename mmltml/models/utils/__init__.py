# Copyright (c) mmltml contributors. All rights reserved.
from .prompt_learner import PromptFeatures, PromptLearner

__all__ = ['PromptFeatures', 'PromptLearner']
