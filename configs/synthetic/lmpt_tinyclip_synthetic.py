# LMPT on the built-in synthetic benchmark with the shipped tiny CLIP
# (the README's main job). L = 0.5 * DB-Focal + 0.5 * CSE (encoder space).
_base_ = [
    '../_base_/datasets/synthetic-lt_clip-64.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/db-focal_coco-lt.py'
]

model = dict(
    type='CLIPPromptClassifier',
    head_inputs=dict(captions=dict(type='CaptionFeaturesInput')),
    backbone=dict(
        type='CLIPPromptBackbone',
        classnames=_base_.data_root + '/labels.txt',
        clip_model_cfg='tinyclip-synthetic',
        clip_pretrained='checkpoints/tinyclip_synthetic.pth',
        prompt_learner=dict(ctx_init='a photo of a', class_specific=True)),
    head=dict(
        type='CLIPPromptHead',
        loss=dict(
            _base_.db_focal_coco_lt_loss,
            class_stats=_base_.class_stats),
        cse_loss=dict(
            type='CSELoss', eta=1.0, gamma=1.0,
            class_stats=_base_.class_stats),
        lambda_cls=0.5))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=20,
    convert_to_iter_based=True)
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=20))
