# A ResNet-18 at a quarter of the width (stem and stage-1 width 16, final
# width 128), trained from scratch: the CNN of the synthetic benchmark.
# Stage 4 keeps stride 1, so a 64 px image gives a 4 x 4 feature map
# (stride 16) for heads that attend over positions (VSIHead). A linear
# multi-label head on globally pooled features; configs set the loss.
_base_ = ['../losses/bce.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 2, 1),
        out_indices=(3, ),
        norm_eval=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=24,
        in_channels=128,
        loss=_base_.bce_loss))
