# LMPT with 2,000 classes (a large label space) on the synthetic benchmark
# and the shipped tiny CLIP. The class prompts go through the chunked text
# encoder in chunks of 500 classes (exact gradients, the memory of one
# chunk): the tiny text tower would fit all 2,000 at once (the automatic
# size, text_chunk_size=None, chunks only above about 7,000 of its prompts;
# ViT-B/16's above 189), so the size is set to run the chunked path. A short
# schedule: the job is to run the large-label-space path end to end.
_base_ = [
    '../_base_/datasets/synthetic-lt-2k_clip-64.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/db-focal_coco-lt.py'
]

model = dict(
    type='CLIPPromptClassifier',
    # the CSE loss's captions: frozen text-encoder features of each caption
    head_inputs=dict(captions=dict(type='CaptionFeaturesInput')),
    backbone=dict(
        type='CLIPPromptBackbone',
        classnames=_base_.data_root + '/labels.txt',
        clip_model_cfg='tinyclip-synthetic',
        clip_pretrained='checkpoints/tinyclip_synthetic.pth',
        prompt_learner=dict(ctx_init='a photo of a', class_specific=True),
        text_chunk_size=500),
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
    type='CosineAnnealingLR', by_epoch=True, T_max=2,
    convert_to_iter_based=True)
train_dataloader = dict(batch_size=64)
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=2, val_interval=2)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=20))
