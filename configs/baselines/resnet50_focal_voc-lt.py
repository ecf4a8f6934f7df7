# DB-paper baseline on VOC-LT, ResNet-50 recipe (configs/baselines/README.md).
# Focal: sigmoid focal loss (gamma 2, times balance_param 2.0, the
# official ResampleLoss default), uniform sampling.
_base_ = [
    '../_base_/models/resnet50_pfc.py',
    '../_base_/datasets/voc-lt_resnet-224.py',
    '../_base_/schedules/sgd-steplr-8e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/focal.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        loss=_base_.focal_loss))
