# Mixing example: the plugin's GroupMAP metric in an otherwise stock
# mmpretrain multi-label config (ResNet-50 with ImageNet-1k weights from
# the mmpretrain model zoo, GlobalAveragePooling, MultiLabelLinearClsHead
# with mmpretrain's sigmoid CrossEntropyLoss, mmpretrain's multi-label
# pipeline and a CSRA-style schedule) on VOC-LT. The evaluator reports
# both mmpretrain's ``multi-label/mAP`` (AveragePrecision) and the
# plugin's ``lt/mAP`` and ``lt/mAP_{head,medium,tail}``; the two totals
# agree unless scores tie (see GroupMAP's docstring).
_base_ = [
    '../_base_/datasets/voc-lt_resnet-224.py',
    '../_base_/default_runtime.py'
]

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=_base_.num_classes,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.7, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# Two metrics with distinct key prefixes ('multi-label/' and 'lt/').
val_evaluator = [
    dict(type='AveragePrecision'),
    dict(type='GroupMAP', class_stats=_base_.class_stats),
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='StepLR', by_epoch=True, step_size=6, gamma=0.1)
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
# NOTE: base_batch_size = (1 GPU) x (32 samples per GPU)
auto_scale_lr = dict(base_batch_size=32)
