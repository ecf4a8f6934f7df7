# Class-balanced focal loss (Cui et al. 2019) with the official
# ResampleLoss defaults CB_beta 0.9, 'average_w' (a reconstruction).
# Every DBLoss option is set. Use: add this file to `_base_` and write
# `loss=dict(_base_.cb_focal_loss, class_stats=...)`
# (statistics where needed).
cb_focal_loss = dict(
    type='DBLoss',
    reweight_func='CB',
    focal=dict(focal=True, gamma=2, balance_param=2.0),
    logit_reg=dict(),
    map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
    CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
    weight_norm=None)
