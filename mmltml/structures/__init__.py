# Copyright (c) mmltml contributors. All rights reserved.
from .class_dependent import ClassDependent, ClassField
from .class_stats import (GROUP_NAMES, HEAD_THR, TAIL_THR, check_class_stats,
                          compute_class_stats, cooccurrence_counts,
                          format_class_stats, group_rules, save_class_stats,
                          split_groups)
from .frozen_image_encoder import (IMAGE_FEATS, CachesImageFeatures,
                                   FrozenImageEncoder, module_fingerprint)
from .head_inputs import (CaptionFeatures, CaptionTokens, HeadInputRequest,
                          LabelCaptions, RequestsHeadInputs, TeacherFeatures,
                          check_head_inputs)
from .label_graph import (TextSimilarityGraph, mlgcn_adjacency,
                          similarity_adjacency, text_similarity_adjacency)

__all__ = [
    'ClassDependent', 'ClassField',
    'GROUP_NAMES', 'HEAD_THR', 'TAIL_THR', 'check_class_stats',
    'compute_class_stats', 'format_class_stats', 'group_rules',
    'save_class_stats', 'split_groups', 'IMAGE_FEATS', 'CachesImageFeatures',
    'FrozenImageEncoder', 'module_fingerprint', 'cooccurrence_counts',
    'TextSimilarityGraph', 'mlgcn_adjacency', 'similarity_adjacency',
    'text_similarity_adjacency', 'CaptionFeatures', 'CaptionTokens',
    'HeadInputRequest', 'RequestsHeadInputs', 'check_head_inputs',
    'LabelCaptions', 'TeacherFeatures'
]
