# DR loss (Lin et al., ECCV 2024) on COCO-LT, the official config: class-wise
# LSEP with sharpness gamma1 = 5 and the negative-gradient constraint with
# gamma2 = 10, the mean over classes (configs/coco/LT_resnet50_pfc_DB.py of
# Kunmonkey/DR-Loss). DR alone, as the official configs train it; DR + BCE:
# add `bce_loss=<a DBLoss fragment>, bce_weight=w` (unverified).
# Use: add this file to `_base_` and write `loss=_base_.dr_coco_lt_loss`.
dr_coco_lt_loss = dict(type='DRLoss', gamma1=5.0, gamma2=10.0)
