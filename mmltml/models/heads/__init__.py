# Copyright (c) mmltml contributors. All rights reserved.
from .clip_prompt_head import CLIPPromptHead  # noqa: F401
from .logits import PRED_LOGITS, attach_logits  # noqa: F401
from .vsi_head import VSIHead  # noqa: F401

__all__ = ['CLIPPromptHead', 'VSIHead', 'PRED_LOGITS', 'attach_logits']
