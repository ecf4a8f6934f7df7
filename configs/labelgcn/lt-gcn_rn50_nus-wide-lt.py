# LT-GCN on NUS-WIDE-LT (this project's split of NUS-WIDE, not an official
# one: docs/en/prepare_data.md) with CLIP RN50, LT-GCN's only published
# backbone. No published NUS-WIDE-LT setting exists: the COCO-LT recipe of
# lt-gcn_rn50_coco-lt.py (the split is drawn on COCO-LT's class-size curve;
# 81 vs 80 classes): DB-Focal with COCO-LT's constants and the split's own
# statistics, the text-similarity graph with p = 0.2, EMA decay 0.999690.
_base_ = [
    '../_base_/models/lt-gcn_rn50.py',
    '../_base_/datasets/nus-wide-lt_clip-rrc-224.py',
    '../_base_/schedules/adam-onecycle-16e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(classnames='nus-wide-lt'),
    head=dict(
        num_classes=_base_.num_classes,
        loss=dict(
            _base_.lt_gcn_db_focal_coco_lt_loss,
            class_stats=_base_.class_stats)))

# EMA decay 0.82^(1/641) = 0.999690, the official COCO-LT value.
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=0.00031,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
