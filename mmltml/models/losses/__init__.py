# Copyright (c) mmltml contributors. All rights reserved.
from .asl_loss import CPRFLAsymmetricLoss, cprfl_asymmetric_loss
from .balanced_asymmetric_loss import (BalancedAsymmetricLoss,
                                       bal_class_weight,
                                       balanced_asymmetric_loss)
from .clip_contrastive_loss import CLIPContrastiveLoss, clip_contrastive_loss
from .cse_loss import CSELoss, cse_distance, cse_loss
from .db_loss import DBLoss, db_loss
from .dr_loss import DRLoss, dr_loss

__all__ = [
    'DBLoss', 'db_loss', 'CPRFLAsymmetricLoss',
    'cprfl_asymmetric_loss', 'CSELoss', 'cse_distance', 'cse_loss',
    'BalancedAsymmetricLoss', 'bal_class_weight', 'balanced_asymmetric_loss',
    'DRLoss', 'dr_loss', 'CLIPContrastiveLoss', 'clip_contrastive_loss'
]
