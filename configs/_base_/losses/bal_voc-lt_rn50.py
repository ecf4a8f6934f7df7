# LM-CLIP's balanced asymmetric loss (BAL), the settings of the official
# config configs/voc_mlt_rn50.py (damilab/lm-clip HEAD 9983999):
# gamma- 12.0, gamma+ 0, clip 0.05, eps 1e-8, label smoothing 0.01, class
# weights (N / n_c)^s normalised to max 1 with s = 0.7 (the official sampler
# uses the same power: OccurrenceWeightedSampler(power=0.7)), logits divided
# by the batch maximum; loss_weight = asl_mul = 0.2 in L = L_CLIP + 0.2 * BAL.
# Use: add this file to `_base_` and write
# `loss=dict(_base_.bal_voc_lt_rn50_loss, class_stats=...)`
# (the training set's statistics).
bal_voc_lt_rn50_loss = dict(
    type='BalancedAsymmetricLoss',
    gamma_pos=0.0,
    gamma_neg=12.0,
    clip=0.05,
    eps=1e-8,
    label_smoothing=0.01,
    class_weight_power=0.7,
    normalize='batch_max',
    loss_weight=0.2)
