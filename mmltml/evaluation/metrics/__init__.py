# Copyright (c) mmltml contributors. All rights reserved.
from .group_map import (GroupMAP, average_precision,
                        classwise_average_precision)

__all__ = ['GroupMAP', 'average_precision', 'classwise_average_precision']
