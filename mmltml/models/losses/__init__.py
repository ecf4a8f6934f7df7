# Copyright (c) mmltml contributors. All rights reserved.
from .asl_loss import CPRFLAsymmetricLoss, cprfl_asymmetric_loss
from .cse_loss import CSELoss, cse_distance, cse_loss
from .db_loss import DBLoss, db_loss

__all__ = [
    'DBLoss', 'db_loss', 'CPRFLAsymmetricLoss',
    'cprfl_asymmetric_loss', 'CSELoss', 'cse_distance', 'cse_loss'
]
