# Copyright (c) mmltml contributors. All rights reserved.
from .class_aware_sampler import ClassAwareSampler
from .occurrence_weighted_sampler import OccurrenceWeightedSampler

__all__ = ['ClassAwareSampler', 'OccurrenceWeightedSampler']
