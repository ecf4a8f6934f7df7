# Copyright (c) mmltml contributors. All rights reserved.
from .clip_prompt_backbone import CLIPPromptBackbone
from .clip_vision_backbone import CLIPVisionBackbone

__all__ = ['CLIPPromptBackbone', 'CLIPVisionBackbone']
