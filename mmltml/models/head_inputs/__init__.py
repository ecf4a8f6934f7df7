# Copyright (c) mmltml contributors. All rights reserved.
from .base_head_input import BaseHeadInput, batch_captions
from .caption_features_input import CaptionFeaturesInput
from .caption_tokens_input import CaptionTokensInput
from .frozen_clip_teacher_input import FrozenCLIPTeacherInput
from .label_captions_input import LabelCaptionsInput

__all__ = [
    'BaseHeadInput', 'batch_captions', 'CaptionFeaturesInput',
    'CaptionTokensInput', 'FrozenCLIPTeacherInput', 'LabelCaptionsInput'
]
