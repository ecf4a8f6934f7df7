# The DB paper's schedule (batch 32 on 1 GPU): SGD lr 0.02, momentum 0.9,
# weight decay 1e-4 on every parameter, gradient clipping at L2 norm 35,
# linear warm-up over 500 iterations from lr / 3, lr x 0.1 at epochs 5 and
# 7, 8 epochs. Evaluated once, after the last epoch (no model selection).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=8,
         milestones=[5, 7], gamma=0.1)
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=8, val_interval=8)
val_cfg = dict()
test_cfg = dict()
# Keep BatchNorm buffers (the neck's BN1d) identical across processes in
# distributed training.
custom_hooks = [dict(type='SyncBuffersHook')]
# NOTE: base_batch_size = (1 GPU) x (32 samples per GPU)
auto_scale_lr = dict(base_batch_size=32)
