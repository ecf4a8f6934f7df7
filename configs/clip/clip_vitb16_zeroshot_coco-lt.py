# Zero-shot CLIP ViT-B/16: class texts from templates, nothing trained.
# Run with: python tools/test.py configs/clip/clip_vitb16_zeroshot_coco-lt.py
_base_ = '../coop/coop_vitb16_coco-lt.py'
model = dict(
    backbone=dict(
        prompt_learner=None,
        templates=['a photo of a {}.']))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
