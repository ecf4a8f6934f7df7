# Copyright (c) mmltml contributors. All rights reserved.
from .clip_fine_tune_head import CLIPFineTuneHead  # noqa: F401
from .clip_prompt_head import CLIPPromptHead  # noqa: F401
from .dual_view_align_head import DualViewAlignHead  # noqa: F401
from .label_gcn_cls_head import LabelGCNClsHead  # noqa: F401
from .label_gcn_prompt_head import LabelGCNPromptHead  # noqa: F401
from .logits import (PRED_LOGITS, PredLogitsMixin,  # noqa: F401
                     attach_logits, record_head_logits)
from .vsi_head import VSIHead  # noqa: F401

__all__ = [
    'CLIPFineTuneHead', 'CLIPPromptHead', 'DualViewAlignHead',
    'LabelGCNClsHead', 'LabelGCNPromptHead', 'VSIHead',
    'PRED_LOGITS', 'PredLogitsMixin', 'attach_logits', 'record_head_logits'
]
