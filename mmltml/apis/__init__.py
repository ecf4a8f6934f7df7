# Copyright (c) mmltml contributors. All rights reserved.
from .multi_label_inferencer import MultiLabelInferencer

__all__ = ['MultiLabelInferencer']
