# Copyright (c) mmltml contributors. All rights reserved.
from .per_group_one_cycle_lr import PerGroupOneCycleLR

__all__ = ['PerGroupOneCycleLR']
