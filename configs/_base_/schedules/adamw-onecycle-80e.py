# HP-DVAL's optimisation recipe as released (ref-hpdval.md §3.1), also
# CPRFL's recipe at 80 epochs (both descend from the ASL / MKT code base).
#
# AdamW, lr 1e-5, decoupled weight decay 1e-4 only on >= 2-D weights that
# are not biases (the official `add_weight_decay`: norm weights, biases and
# other 1-D parameters get none). The official code trains under AMP
# (fp16 + GradScaler): `tools/train.py --amp` on a GPU.
optim_wrapper = dict(
    type='OptimWrapper',
    # beta1 starts at 0.95 and is cycled by the momentum schedulers below
    optimizer=dict(
        type='AdamW', lr=1e-5, betas=(0.95, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))

# torch's OneCycleLR(max_lr=lr, epochs=80, pct_start=0.1) stepped every
# iteration: cosine warm-up from lr/25 over 8 epochs, cosine annealing to
# lr/25/1e4; beta1 cycles 0.95 -> 0.85 -> 0.95 (torch's cycle_momentum,
# one iteration later than torch at each phase boundary). Change `lr` and
# `eta_max` together; a shorter cycle changes `total_steps` and the two
# momentum phases (10% / 90%).
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=1e-5,
        total_steps=80,
        pct_start=0.1,
        anneal_strategy='cos',
        div_factor=25.,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.85,
        T_max=8,
        begin=0,
        end=8,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.95,
        T_max=72,
        begin=8,
        end=80,
        by_epoch=True,
        convert_to_iter_based=True),
]

# The "val" loop evaluates the test split (there is no val split) every 10
# epochs and after the last; the reported number is the last epoch's (the
# official code selects the best EMA epoch on the test split).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=80, val_interval=10)
val_cfg = dict()
test_cfg = dict()

# EMA of every weight and buffer, decay 0.998 per iteration (mmengine's
# momentum = 1 - decay), as the official ModelEma. Validation and
# tools/test.py use the EMA weights: checkpoints hold them in `state_dict`
# (so a later stage's `load_from` starts from them) and the regular
# weights in `ema_state_dict`.
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=0.002,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]

# NOTE: base_batch_size = (1 GPU) x (16 samples per GPU)
auto_scale_lr = dict(base_batch_size=16)
