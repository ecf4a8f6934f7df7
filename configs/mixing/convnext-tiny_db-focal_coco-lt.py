# Mixing example: the plugin's DBLoss as the loss of a stock mmpretrain
# multi-label head on a ConvNeXt-T (ImageNet-1k weights from the mmpretrain
# model zoo), trained on COCO-LT with class-aware sampling. Only the loss,
# its class statistics and the sampler come from mmltml; the schedule is
# illustrative, not tuned.
_base_ = [
    '../_base_/datasets/coco-lt_resnet-224.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/db-focal_coco-lt.py'
]

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth'  # noqa
model = dict(
    type='ImageClassifier',
    # ConvNeXt pools and normalises its last stage itself: no neck.
    backbone=dict(
        type='ConvNeXt',
        arch='tiny',
        drop_path_rate=0.1,
        gap_before_final_norm=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=_base_.num_classes,
        in_channels=768,
        loss=dict(
            _base_.db_focal_coco_lt_loss,
            class_stats=_base_.class_stats),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0)))

train_dataloader = dict(
    sampler=dict(
        _delete_=True,
        type='ClassAwareSampler',
        num_samples_cls=3,
        reduce=4),
    drop_last=True)

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=8, T_max=8,
         convert_to_iter_based=True)
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=8, val_interval=8)
val_cfg = dict()
test_cfg = dict()
# NOTE: base_batch_size = (1 GPU) x (32 samples per GPU)
auto_scale_lr = dict(base_batch_size=32)
