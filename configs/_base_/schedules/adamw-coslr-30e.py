# AdamW (lr 1e-3, weight decay 0.05, none on norms and biases) with a
# one-epoch linear warm-up and per-iteration cosine annealing over 30
# epochs: the schedule of the CNNs trained from scratch on the synthetic
# benchmark.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, T_max=29,
         convert_to_iter_based=True),
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=30, val_interval=10)
val_cfg = dict()
test_cfg = dict()
