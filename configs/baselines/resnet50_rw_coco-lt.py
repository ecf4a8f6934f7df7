# DB-paper baseline on COCO-LT, ResNet-50 recipe (configs/baselines/README.md).
# RW: BCE re-weighted by sqrt(N / n_i), applied to both the positive
# and the negative term of class i (not normalised), uniform sampling.
_base_ = [
    '../_base_/models/resnet50_pfc.py',
    '../_base_/datasets/coco-lt_resnet-224.py',
    '../_base_/schedules/sgd-steplr-8e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/rw-sqrt-inv.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        loss=dict(
            _base_.rw_sqrt_inv_loss,
            class_stats=_base_.class_stats)))
