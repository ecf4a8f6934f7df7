# LM-CLIP's optimisation (official train.py:334-341, 385-387, 503): AdamW
# (betas 0.9 / 0.98, eps 1e-9, weight decay 0.01 on every parameter:
# norms, biases and the logit scale included, no exclusions), fp32, no
# gradient clipping, cosine annealing to 0 stepped once per epoch over 50
# epochs. The method configs set the learning rate (1e-7 ... 2e-6).
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-6, betas=(0.9, 0.98), eps=1e-9,
        weight_decay=0.01))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=50, eta_min=0.0)
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=50, val_interval=10)
val_cfg = dict()
test_cfg = dict()
