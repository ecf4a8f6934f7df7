# LT-GCN's modified DB-Focal on COCO-LT (Wang-zuozheng/LT-GCN dbl.py,
# ref-labelgcn.md §4.2): a static class weight 0.1 + sigmoid(0.01 N / n_i)
# on both terms of class i (`reweight_func='class_static'`, map alpha 0.1,
# beta 0.01, mu 0), NTR (lambda 2.0, kappa 0.05) and element-wise focal
# (gamma 2, x 2). Fixed: the mean over the B x C elements; the official code
# sums them (B x C times larger: `reduction='sum'` reproduces it).
# Use: add this file to `_base_` and write
# `loss=dict(_base_.lt_gcn_db_focal_coco_lt_loss, class_stats=...)`.
lt_gcn_db_focal_coco_lt_loss = dict(
    type='DBLoss',
    reweight_func='class_static',
    focal=dict(focal=True, gamma=2, balance_param=2.0),
    logit_reg=dict(neg_scale=2.0, init_bias=0.05),
    map_param=dict(alpha=0.1, beta=0.01, gamma=0.0),
    CB_loss=dict(CB_beta=0.9, CB_mode='average_w'),
    weight_norm=None,
    reduction='mean')
