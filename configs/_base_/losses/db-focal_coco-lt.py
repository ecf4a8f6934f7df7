# DB-Focal of the DB paper on COCO-LT (official config): re-balanced
# weighting, NTR (lambda 2, kappa 0.05) and focal.
# Every DBLoss option is set. Use: add this file to `_base_` and write
# `loss=dict(_base_.db_focal_coco_lt_loss, class_stats=...)`
# (statistics where needed).
db_focal_coco_lt_loss = dict(
    type='DBLoss',
    reweight_func='rebalance',
    focal=dict(focal=True, gamma=2, balance_param=2.0),
    logit_reg=dict(neg_scale=2.0, init_bias=0.05),
    map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
    CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
    weight_norm=None)
