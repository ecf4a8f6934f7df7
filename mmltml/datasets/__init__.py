# Copyright (c) mmltml contributors. All rights reserved.
from .categories import (COCO_LT_CLASSES, VOC_LT_CLASSES, get_class_names,
                         read_label_file)
from .class_stats import (compute_class_stats, format_class_stats,
                          load_class_stats, parse_list_file, save_class_stats,
                          split_groups)
from .samplers import *  # noqa: F401,F403

__all__ = [
    'COCO_LT_CLASSES', 'VOC_LT_CLASSES', 'get_class_names', 'read_label_file',
    'compute_class_stats', 'format_class_stats', 'load_class_stats',
    'parse_list_file', 'save_class_stats', 'split_groups'
]
