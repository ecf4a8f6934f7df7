# ResNet baseline on the synthetic benchmark: a quarter-width ResNet-18 from
# scratch with binary cross-entropy (configs/_base_/losses/bce.py).
_base_ = [
    '../_base_/models/resnet18-w16.py',
    '../_base_/datasets/synthetic-lt_64.py',
    '../_base_/schedules/adamw-coslr-30e.py',
    '../_base_/default_runtime.py'
]
model = dict(head=dict(num_classes=_base_.num_classes))
default_hooks = dict(logger=dict(interval=10))
