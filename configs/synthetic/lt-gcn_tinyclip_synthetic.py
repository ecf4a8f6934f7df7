# LT-GCN's own recipe on the synthetic benchmark, at this scale: the frozen
# tiny CLIP (cached image features, as the other prompt rows), one shared
# context from "a photo of a", the residual GCN 128 -> 256 -> 256 -> 128 on
# the text-similarity graph (p = 0.2), logits 10 * cos, LT-GCN's static
# DB-Focal (COCO-LT constants, as the other synthetic rows), Adam lr 1e-4
# with the GCN at 1e-3, OneCycle (pct 0.2) over the 20 epochs, EMA decay
# 0.82^(1/90), batch 32. configs/labelgcn/README.md.
_base_ = [
    '../_base_/datasets/synthetic-lt_clip-64.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/adam-onecycle-16e.py',
    '../_base_/losses/lt-gcn-db-focal_coco-lt.py'
]

model = dict(
    type='CLIPPromptClassifier',
    backbone=dict(
        type='CLIPPromptBackbone',
        classnames=_base_.data_root + '/labels.txt',
        clip_model_cfg='tinyclip-synthetic',
        clip_pretrained='checkpoints/tinyclip_synthetic.pth',
        prompt_learner=dict(ctx_init='a photo of a', class_specific=False)),
    head=dict(
        type='LabelGCNPromptHead',
        num_classes=_base_.num_classes,
        logit_scale=10.0,
        adapter=dict(
            type='GCNTextAdapter',
            in_dims=128,
            hidden_dims=(256, 256),
            residual=1.0,
            graph=dict(mode='text_similarity', topk=None, reweight=0.2)),
        loss=dict(
            _base_.lt_gcn_db_focal_coco_lt_loss,
            class_stats=_base_.class_stats)))

train_dataloader = dict(
    dataset=dict(dataset=dict(require_captions=False)))

# the one-cycle schedule of the base, over 20 epochs
param_scheduler = [
    dict(
        type='PerGroupOneCycleLR',
        eta_max=None,
        total_steps=20,
        pct_start=0.2,
        anneal_strategy='cos',
        div_factor=25.,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.85,
        T_max=4,
        begin=0,
        end=4,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.95,
        T_max=16,
        begin=4,
        end=20,
        by_epoch=True,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20, val_interval=5)
custom_hooks = [
    dict(type='FeatureCacheHook'),
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=0.0022,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
default_hooks = dict(logger=dict(interval=20))
