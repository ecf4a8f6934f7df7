# Code-faithful schedule (VOC-LT): the official OneCycle is sized for 80
# epochs and a commented line of the official engine stops VOC runs after
# 29, while the lr is still about 0.8 x max. (As released the code stops
# every dataset after 79 epochs: use train_cfg.max_epochs=79.) The paper
# says 30 epochs (the default config).
_base_ = './cprfl_r101_voc-lt.py'
param_scheduler = [
    dict(_base_.param_scheduler[0], total_steps=80),
    dict(_base_.param_scheduler[1], T_max=8, end=8),
    dict(_base_.param_scheduler[2], T_max=72, begin=8, end=80),
]
train_cfg = dict(max_epochs=29)
