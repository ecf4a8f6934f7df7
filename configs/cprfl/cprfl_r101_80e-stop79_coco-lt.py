# Code-faithful schedule (COCO-LT): the official OneCycle is sized for 80
# epochs (warm-up 8 epochs) and the run stops after 79, so the lr never
# reaches the end of the cycle (about 5e-4 x max at the stop). The paper
# says 30 epochs (the default config).
_base_ = './cprfl_r101_coco-lt.py'
param_scheduler = [
    dict(_base_.param_scheduler[0], total_steps=80),
    dict(_base_.param_scheduler[1], T_max=8, end=8),
    dict(_base_.param_scheduler[2], T_max=72, begin=8, end=80),
]
train_cfg = dict(max_epochs=79)
