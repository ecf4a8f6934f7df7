# Copyright (c) mmltml contributors. All rights reserved.
from .clip_prompt_backbone import CLIPPromptBackbone
from .clip_vision_backbone import CLIPVisionBackbone
from .timm_dual_view_backbone import TimmDualViewBackbone

__all__ = [
    'CLIPPromptBackbone', 'CLIPVisionBackbone', 'TimmDualViewBackbone'
]
