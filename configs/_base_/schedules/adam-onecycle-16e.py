# LT-GCN's optimisation recipe (Wang-zuozheng/LT-GCN train.py:83-133,
# utils.py:315-418; ref-labelgcn.md §4.3), with the cycle fitted to the
# loop (configs/labelgcn/README.md).
#
# Adam with coupled L2 weight decay 1e-4 (torch Adam, not AdamW) and the
# official parameter groups: no decay on 1-D parameters and biases, the GCN
# (`head.adapter`) at 10 x the base lr (lr 1e-4, GCN lr 1e-3: the values
# the VOC-LT log ran with). mmengine builds one group per parameter, so the
# GCN's lr is an `lr_mult`.
optim_wrapper = dict(
    type='OptimWrapper',
    # beta1 starts at 0.95 and is cycled by the momentum schedulers below
    # (torch's OneCycleLR with cycle_momentum=True, as the official code).
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.95, 0.999),
                   weight_decay=1e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        flat_decay_mult=0.,
        custom_keys={'head.adapter': dict(lr_mult=10.)}))

# torch's OneCycleLR(max_lr=[lr, lr, gcn_lr, gcn_lr], pct_start=0.2),
# stepped every iteration: cosine warm-up from max/25 over the first 20 %
# of the iterations, cosine annealing to max/25/1e4. Each group peaks at
# its own lr (PerGroupOneCycleLR; mmengine's OneCycleLR would give every
# group the same peak). The official code sizes the cycle for
# `total_epochs` = 120 and stops after `epochs` (16 in its COCO-LT yaml;
# the VOC-LT log ends at 18), inside the warm-up; here the cycle spans the
# 16 epochs of the loop, so the reported last epoch ends annealed
# (configs/labelgcn/lt-gcn_rn50_120e-stop18_voc-lt.py is the literal run).
param_scheduler = [
    dict(
        type='PerGroupOneCycleLR',
        eta_max=None,
        total_steps=16,
        pct_start=0.2,
        anneal_strategy='cos',
        div_factor=25.,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True),
    # beta1: 0.95 -> 0.85 over the warm-up, back to 0.95 by the end.
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.85,
        T_max=3.2,
        begin=0,
        end=3.2,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.95,
        T_max=12.8,
        begin=3.2,
        end=16,
        by_epoch=True,
        convert_to_iter_based=True),
]

# No val split: the "val" loop evaluates the test split every 4 epochs and
# after the last; the reported number is the last epoch's EMA model (the
# official code reported the best of the raw and EMA models over epochs,
# on the test split).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=16, val_interval=4)
val_cfg = dict()
test_cfg = dict()

# EMA of every weight and buffer after every step (mmengine's EMAHook,
# momentum = 1 - decay; validation, testing and checkpoints' `state_dict`
# use the EMA weights). The official decay is 0.82^(1/K), K = 90 (VOC-LT)
# or 641 (COCO-LT), so the dataset configs add the hook with their
# momentum (and configs with a feature cache list both hooks).

# NOTE: base_batch_size = (1 GPU) x (32 samples per GPU)
auto_scale_lr = dict(base_batch_size=32)
