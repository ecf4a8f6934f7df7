# Copyright (c) mmltml contributors. All rights reserved.
from .cprfl_rand_augment import CPRFLRandAugment, cprfl_randaug_policies
from .random_color_cutout import RandomColorCutout

__all__ = ['CPRFLRandAugment', 'RandomColorCutout', 'cprfl_randaug_policies']
