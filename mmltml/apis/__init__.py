# Copyright (c) mmltml contributors. All rights reserved.
from .model_index import (inference_model, register_model_index,
                          register_multi_label_task)
from .multi_label_inferencer import MultiLabelInferencer
from .zero_shot_inferencer import ZeroShotInferencer, zero_shot_config

__all__ = [
    'MultiLabelInferencer', 'inference_model', 'register_model_index',
    'register_multi_label_task', 'ZeroShotInferencer', 'zero_shot_config'
]
