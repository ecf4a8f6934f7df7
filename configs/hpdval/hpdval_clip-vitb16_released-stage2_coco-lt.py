# HP-DVAL stage 2 on COCO-LT, `released` preset: the stage-1 student (and
# text tower) frozen, the global and local prompts (4 class-shared tokens
# each, from "a photo of a") trained with L = DB + L_sc, L_sc anchoring the
# local prompt to "a photo of a {}." (the released code; the paper anchors
# the global one), plain DB (positive scale 1, as the released stage-2
# runner), lr 1e-5, the 80-epoch OneCycle stopped after epoch 50 (the
# released stage-2 engine), EMA.
#
# Starts from stage 1's checkpoint (its EMA weights, with a fresh optimiser
# and schedule; the released code never loads it):
#   python tools/train.py <this config> \
#       --cfg-options load_from=<stage-1 work dir>/epoch_80.pth
# tools/train.py refuses to start it without `load_from` (previous_stage).
_base_ = './hpdval_clip-vitb16_released-stage1_coco-lt.py'
previous_stage = './hpdval_clip-vitb16_released-stage1_coco-lt.py'

model = dict(
    # the frozen student and text tower come from stage 1: saved whole
    backbone=dict(frozen=True, save_frozen=True),
    head=dict(
        sc_weight=1.0,
        sc_target='local',
        text=dict(learned=True, trainable_text=False, save_frozen=True),
        loss=dict(
            logit_reg=dict(_delete_=True, neg_scale=2.0, init_bias=0.05))))
train_cfg = dict(max_epochs=50)

# The student is frozen and the test pipeline deterministic: the test
# split's dual-view tokens ([197, 512] per image, about 2 GB in fp32) are
# computed once by FeatureCacheHook, exactly. Training keeps the random
# cutout and RandAugment, so its images are encoded at every step.
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CachedFeatureDataset',
        dataset=_base_.val_dataloader.dataset))
test_dataloader = val_dataloader
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=0.002,
        update_buffers=True,
        priority='ABOVE_NORMAL'),
    dict(type='FeatureCacheHook'),
]
