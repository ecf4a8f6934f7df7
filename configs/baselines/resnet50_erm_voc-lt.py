# DB-paper baseline on VOC-LT, ResNet-50 recipe (configs/baselines/README.md).
# ERM: plain binary cross-entropy, uniform sampling.
_base_ = [
    '../_base_/models/resnet50_pfc.py',
    '../_base_/datasets/voc-lt_resnet-224.py',
    '../_base_/schedules/sgd-steplr-8e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        loss=_base_.bce_loss))
