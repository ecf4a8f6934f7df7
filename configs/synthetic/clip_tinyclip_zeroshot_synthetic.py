# Zero-shot tiny CLIP on the synthetic benchmark (nothing trained).
_base_ = './coop_tinyclip_synthetic.py'
model = dict(backbone=dict(prompt_learner=None,
                           templates=['a photo of a {}.']))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
