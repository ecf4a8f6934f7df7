# CPRFL's optimisation recipe, at the paper's length (configs/cprfl/README.md).
#
# AdamW, lr 5e-5, decoupled weight decay 1e-4 only on >= 2-D weights that
# are not biases (the official `add_weight_decay`: norm weights, biases and
# other 1-D parameters get none). lr 5e-5 is what produced the COCO-LT
# headline (the official checkpoint name says `lr5e-5`); the paper text says
# 1e-5 for COCO-LT and 5e-5 for VOC-LT. Change `lr` and `eta_max` together.
optim_wrapper = dict(
    type='OptimWrapper',
    # beta1 starts at 0.95 and is cycled by the momentum schedulers below;
    # without them use the default betas=(0.9, 0.999).
    optimizer=dict(
        type='AdamW', lr=5e-5, betas=(0.95, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))

# torch's OneCycleLR(max_lr=lr, pct_start=0.1) stepped every iteration, as
# the official code: cosine warm-up from lr/25 over the first 10% of the
# iterations, cosine annealing to lr/25/1e4 at the end. The official code
# sizes the cycle for 80 epochs and stops after 79 (COCO-LT) - see
# configs/cprfl/cprfl_r101_80e-stop79_coco-lt.py; the paper trains 30
# epochs. By default the cycle spans the whole run (30 epochs), so the
# last epoch, which is the one reported, ends annealed.
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=5e-5,
        total_steps=30,
        pct_start=0.1,
        anneal_strategy='cos',
        div_factor=25.,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True),
    # torch's OneCycleLR also cycles Adam's beta1 (cycle_momentum=True):
    # 0.95 -> 0.85 during the warm-up, back to 0.95 by the end (cosine);
    # mmengine's OneCycleLR does not, these two schedulers do (one iteration
    # later than torch at each phase boundary).
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.85,
        T_max=3,
        begin=0,
        end=3,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.95,
        T_max=27,
        begin=3,
        end=30,
        by_epoch=True,
        convert_to_iter_based=True),
]

# The "val" loop evaluates the test split (there is no val split) every 5
# epochs and after the last; the reported number is the last epoch's.
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()

# EMA of every weight and buffer (BN statistics too), decay 0.998 per
# iteration (mmengine's momentum = 1 - decay), as the official ModelEma.
# Validation and tools/test.py use the EMA weights: checkpoints hold them
# in `state_dict` and the regular weights in `ema_state_dict` (see
# configs/cprfl/README.md for testing the regular model).
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
