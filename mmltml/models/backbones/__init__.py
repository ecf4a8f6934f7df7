# Copyright (c) mmltml contributors. All rights reserved.
from .clip_prompt_backbone import CLIPPromptBackbone

__all__ = ['CLIPPromptBackbone']
from .clip_vision_backbone import CLIPVisionBackbone  # noqa: F401
