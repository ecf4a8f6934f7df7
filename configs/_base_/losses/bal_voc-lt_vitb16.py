# LM-CLIP's balanced asymmetric loss (BAL), the settings of the official
# config configs/voc_mlt_vitb16.py (damilab/lm-clip HEAD 9983999):
# gamma- 9.8, gamma+ 0, clip 0.05, eps 1e-8, label smoothing 0.1, class
# weights (N / n_c)^s normalised to max 1 with s = 1.35 (the official sampler
# uses the same power: OccurrenceWeightedSampler(power=1.35)), logits divided
# by the batch maximum; loss_weight = asl_mul = 0.4 in L = L_CLIP + 0.4 * BAL.
# Use: add this file to `_base_` and write
# `loss=dict(_base_.bal_voc_lt_vitb16_loss, class_stats=...)`
# (the training set's statistics).
bal_voc_lt_vitb16_loss = dict(
    type='BalancedAsymmetricLoss',
    gamma_pos=0.0,
    gamma_neg=9.8,
    clip=0.05,
    eps=1e-8,
    label_smoothing=0.1,
    class_weight_power=1.35,
    normalize='batch_max',
    loss_weight=0.4)
