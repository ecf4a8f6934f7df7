# Copyright (c) mmltml contributors. All rights reserved.
from .clip_prompt_classifier import CLIPPromptClassifier

__all__ = ['CLIPPromptClassifier']
