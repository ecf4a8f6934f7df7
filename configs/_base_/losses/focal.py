# Focal loss (gamma 2) with ResampleLoss' balance_param 2.0 (a
# reconstruction: mmdet's FocalLoss would use alpha 0.25).
# Every DBLoss option is set. Use: add this file to `_base_` and write
# `loss=dict(_base_.focal_loss, class_stats=...)`
# (statistics where needed).
focal_loss = dict(
    type='DBLoss',
    reweight_func=None,
    focal=dict(focal=True, gamma=2, balance_param=2.0),
    logit_reg=dict(),
    map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
    CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
    weight_norm=None)
