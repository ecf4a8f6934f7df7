# DB-paper baseline on COCO-LT, ResNet-50 recipe (configs/baselines/README.md).
# CB-Focal: focal loss weighted by the class-balanced term of Cui
# et al. 2019 (CB_beta 0.9, per image the mean over its positive
# classes), uniform sampling.
_base_ = [
    '../_base_/models/resnet50_pfc.py',
    '../_base_/datasets/coco-lt_resnet-224.py',
    '../_base_/schedules/sgd-steplr-8e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/cb-focal.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        loss=dict(
            _base_.cb_focal_loss,
            class_stats=_base_.class_stats)))
