# Copyright (c) mmltml contributors. All rights reserved.
from .clip_prompt_backbone import CLIPPromptBackbone

__all__ = ['CLIPPromptBackbone']
