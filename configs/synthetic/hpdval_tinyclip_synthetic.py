# HP-DVAL on the built-in synthetic benchmark: stage 2 after
# hpdval_tinyclip_stage1_synthetic.py (its `previous_stage`, whose last EMA
# checkpoint it loads; benchmark_table.py trains it first with the same
# seed). The stage-1 student is frozen; the global and local prompts (4
# class-shared tokens each) are trained with DB* + L_sc anchoring the
# global prompt to "a photo of a {}." (the paper's Eq. 10 with the code's
# mean), 10 epochs. The contexts start from "a photo of a" (the released
# code's init; the paper's N(0, 0.02^2) would start stage 2 from scores
# unrelated to stage 1's). The frozen student and flip-only pipelines make
# both splits' dual-view tokens exact to cache (both flips for training).
_base_ = './hpdval_tinyclip_stage1_synthetic.py'
previous_stage = './hpdval_tinyclip_stage1_synthetic.py'

model = dict(
    head_inputs=None,
    # the frozen student comes from stage 1: saved whole
    backbone=dict(frozen=True, save_frozen=True),
    head=dict(
        kd_weight=0., sc_weight=1.0, sc_target='global',
        text=dict(learned=True)))

lr = 1e-4
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], eta_max=lr, total_steps=10),
    dict(_base_.param_scheduler[1], T_max=1, end=1),
    dict(_base_.param_scheduler[2], T_max=9, begin=1, end=10),
]
train_cfg = dict(max_epochs=10)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CachedFeatureDataset',
        dataset=_base_.train_dataloader.dataset))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CachedFeatureDataset',
        dataset=_base_.val_dataloader.dataset))
test_dataloader = val_dataloader
custom_hooks = [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage',
         momentum=0.002, update_buffers=True, priority='ABOVE_NORMAL'),
    dict(type='FeatureCacheHook'),
]
