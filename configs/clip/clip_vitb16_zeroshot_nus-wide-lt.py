# Zero-shot CLIP ViT-B/16 on NUS-WIDE-LT (this project's split): class texts
# from templates, nothing trained.
# Run with:
#   python tools/test.py configs/clip/clip_vitb16_zeroshot_nus-wide-lt.py
_base_ = '../coop/coop_vitb16_nus-wide-lt.py'
model = dict(
    backbone=dict(
        prompt_learner=None,
        templates=['a photo of a {}.']))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
