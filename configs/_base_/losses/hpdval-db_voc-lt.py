# HP-DVAL's classification loss "DB*" on VOC-LT, as the released code trains
# it (jiexuanyan/hp_dval coco_runner.py, ref-hpdval.md §2.1): DB-Focal of the
# DB paper (rebalance alpha 0.1, beta 10, mu 0.3; NTR lambda 5, kappa 0.05)
# with every positive logit scaled by pi = 10 after the prior bias
# (`pos_scale`) and the focal factor computed once per batch from the mean
# BCE (`focal_reduction='batch'`, the code's reduction inside its BCE).
# The paper's Eq. 14-15 scale positives by n_i / max_j n_j instead
# (`pos_scale='freq_ratio'`), not in the released code.
# Use: add this file to `_base_` and write
# `loss=dict(_base_.hpdval_db_voc_lt_loss, class_stats=...)`.
hpdval_db_voc_lt_loss = dict(
    type='DBLoss',
    reweight_func='rebalance',
    focal=dict(focal=True, gamma=2, balance_param=2.0),
    logit_reg=dict(neg_scale=5.0, init_bias=0.05, pos_scale=10.0),
    map_param=dict(alpha=0.1, beta=10.0, gamma=0.3),
    CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
    weight_norm=None,
    focal_reduction='batch')
