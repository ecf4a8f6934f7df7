# Re-weighting (RW) by sqrt(N / n_i), no weight normalisation (a
# reconstruction: the DB paper's RW baseline).
# Every DBLoss option is set. Use: add this file to `_base_` and write
# `loss=dict(_base_.rw_sqrt_inv_loss, class_stats=...)`
# (statistics where needed).
rw_sqrt_inv_loss = dict(
    type='DBLoss',
    reweight_func='sqrt_inv',
    focal=dict(focal=False, gamma=2, balance_param=2.0),
    logit_reg=dict(),
    map_param=dict(alpha=0.1, beta=10.0, gamma=0.2),
    CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
    weight_norm=None)
