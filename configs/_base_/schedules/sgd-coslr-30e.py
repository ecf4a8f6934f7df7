# LMPT recipe (paper): SGD momentum 0.9, weight decay 1e-4, batch 64,
# cosine annealing over 30 epochs. Only the prompts are trainable.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=30,
    convert_to_iter_based=True)
# mmengine's epoch loop, plus exact mid-epoch resume (skips the batches
# already trained, per-iteration seeding; mmltml.engine.runners).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
# NOTE: base_batch_size = (1 GPU) x (64 samples per GPU)
auto_scale_lr = dict(base_batch_size=64)
