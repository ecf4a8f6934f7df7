# HP-DVAL stage 1 on the built-in synthetic benchmark with the shipped tiny
# CLIP: the `paper` preset (configs/hpdval: the paper's description with the
# released code's bugs fixed, e.g. a separate frozen teacher for L_kd),
# adapted to the tiny benchmark where it must be (each reason in
# configs/synthetic/README.md): the tiny CLIP's image tower is a ResNet,
# whose 2 x 2 layer4 positions are the local view (the attention pool's
# value path, MaskCLIP), k = 1 of 4 (the paper's 32 of 196 is 16 %);
# horizontal flips instead of cutout + RandAugment, whose colour operations
# change "<colour> <shape>" labels; lr for a tiny model. L = DB* (positives
# x n_i / max n_j) + L_kd, both views scored against "a photo of a {}.",
# local_weight 0.4, frozen text tower, CLIP's normalisation, batch 32,
# AdamW + OneCycle over 20 epochs, EMA. Stage 2 is
# hpdval_tinyclip_synthetic.py.
_base_ = [
    '../_base_/datasets/synthetic-lt_64.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/hpdval-db_coco-lt.py'
]
clip_model_cfg = 'tinyclip-synthetic'
clip_pretrained = 'checkpoints/tinyclip_synthetic.pth'

model = dict(
    type='CLIPPromptClassifier',
    head_inputs=dict(
        teacher=dict(
            type='FrozenCLIPTeacherInput',
            clip_model_cfg=clip_model_cfg,
            clip_pretrained=clip_pretrained)),
    backbone=dict(
        type='CLIPVisionBackbone',
        clip_model_cfg=clip_model_cfg,
        clip_pretrained=clip_pretrained,
        out_type='dual_view',
        frozen=False),
    head=dict(
        type='DualViewAlignHead',
        patch_topk=1,
        local_weight=0.4,
        score_norm='l2_over_classes',
        kd_weight=1.0,
        text=dict(
            type='HierarchicalPrompts',
            classnames=_base_.data_root + '/labels.txt',
            clip_model_cfg=clip_model_cfg,
            clip_pretrained=clip_pretrained,
            global_prompt=dict(
                n_ctx=4, ctx_init='a photo of a', class_specific=False),
            local_prompt=dict(
                n_ctx=4, ctx_init='a photo of a', class_specific=False),
            learned=False,
            trainable_text=False),
        loss=dict(
            _base_.hpdval_db_coco_lt_loss,
            logit_reg=dict(neg_scale=2.0, init_bias=0.05,
                           pos_scale='freq_ratio'),
            class_stats=_base_.class_stats)))

train_dataloader = dict(batch_size=32)

lr = 1e-4
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=lr, betas=(0.95, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))
param_scheduler = [
    dict(type='OneCycleLR', eta_max=lr, total_steps=20, pct_start=0.1,
         anneal_strategy='cos', div_factor=25., final_div_factor=1e4,
         by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min=0.85, T_max=2, begin=0,
         end=2, by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min=0.95, T_max=18, begin=2,
         end=20, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
custom_hooks = [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage',
         momentum=0.002, update_buffers=True, priority='ABOVE_NORMAL')
]
default_hooks = dict(logger=dict(interval=20))
