# HP-DVAL stage 2 on COCO-LT, `paper` preset: the stage-1 student frozen,
# the global and local prompts (4 class-shared tokens each, from N(0,
# 0.02^2)) trained with L = DB* + L_sc (Eq. 17), L_sc anchoring the global
# prompt to "a photo of a {}." (Eq. 10, mean-reduced), lr 5e-6, 10 epochs
# (OneCycle over them), EMA.
#
# Starts from stage 1's checkpoint (its EMA weights, with a fresh optimiser
# and schedule):
#   python tools/train.py <this config> \
#       --cfg-options load_from=<stage-1 work dir>/epoch_20.pth
_base_ = './hpdval_clip-vitb16_paper-stage1_coco-lt.py'
previous_stage = './hpdval_clip-vitb16_paper-stage1_coco-lt.py'

model = dict(
    head_inputs=None,
    # the frozen student comes from stage 1: saved whole
    backbone=dict(frozen=True, save_frozen=True),
    head=dict(
        kd_weight=0.,
        sc_weight=1.0,
        sc_target='global',
        text=dict(learned=True)))

optim_wrapper = dict(optimizer=dict(lr=5e-6))
param_scheduler = [
    dict(_base_.param_scheduler[0], eta_max=5e-6, total_steps=10),
    dict(_base_.param_scheduler[1], T_max=1, end=1),
    dict(_base_.param_scheduler[2], T_max=9, begin=1, end=10),
]
train_cfg = dict(max_epochs=10)

# The student is frozen and the test pipeline deterministic: the test
# split's dual-view tokens are computed once by FeatureCacheHook, exactly.
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
