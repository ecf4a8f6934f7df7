# LT-GCN on VOC-LT with the CLIP RN50 image tower frozen (the toolbox's
# prompt-learning protocol, as LMPT and CoOp): image features are computed
# once and served from the feature cache (224 px squash resize + flip, as
# the LMPT / CoOp configs), so only the prompts, the GCN and the scale
# setting differ from CoOp. Everything else as lt-gcn_rn50_voc-lt.py.
_base_ = [
    '../_base_/models/lt-gcn_rn50.py',
    '../_base_/datasets/voc-lt_clip-224.py',
    '../_base_/schedules/adam-onecycle-16e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/lt-gcn-db-focal_voc-lt.py'
]

model = dict(
    backbone=dict(classnames='voc-lt', image_tower_trainable=False),
    head=dict(
        num_classes=_base_.num_classes,
        loss=dict(
            _base_.lt_gcn_db_focal_voc_lt_loss,
            class_stats=_base_.class_stats)))

train_dataloader = dict(
    batch_size=32, dataset=dict(dataset=dict(with_captions=False)))
custom_hooks = [
    dict(type='FeatureCacheHook'),
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=0.0022,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
