# Copyright (c) mmltml contributors. All rights reserved.
from mmltml.structures import (compute_class_stats, format_class_stats,
                               save_class_stats, split_groups)
from .cached_feature_dataset import CachedFeatureDataset
from .categories import (COCO_LT_CLASSES, VOC_LT_CLASSES, get_class_names,
                         is_preset, preset_names, read_label_file)
from .class_stats import load_class_stats
from .coco_lt import COCOLTDataset
from .image_check import BadImageError, find_image_problem
from .list_file import iter_list_file, parse_list_file
from .lt_benchmark import LTBenchmarkDataset, benchmark_datasets
from .lt_multi_label import LTMultiLabelDataset
from .nus_wide_lt import NUS_WIDE_LT_CLASSES, NUSWIDELTDataset
from .samplers import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .voc_lt import VOCLTDataset

__all__ = [
    'COCO_LT_CLASSES', 'VOC_LT_CLASSES', 'get_class_names', 'is_preset',
    'preset_names', 'LTBenchmarkDataset', 'benchmark_datasets',
    'read_label_file', 'compute_class_stats', 'format_class_stats',
    'iter_list_file', 'load_class_stats', 'parse_list_file',
    'save_class_stats', 'split_groups', 'LTMultiLabelDataset', 'COCOLTDataset',
    'VOCLTDataset', 'NUS_WIDE_LT_CLASSES', 'NUSWIDELTDataset',
    'CachedFeatureDataset', 'BadImageError',
    'find_image_problem'
]
