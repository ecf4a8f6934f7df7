# Copyright (c) mmltml contributors. All rights reserved.
from .resumable_epoch_based_train_loop import ResumableEpochBasedTrainLoop

__all__ = ['ResumableEpochBasedTrainLoop']
