# Mixing example: CPRFL's visual-semantic interaction head (VSIHead) on a
# Swin-T backbone (ImageNet-1k weights from the mmpretrain model zoo). The
# last Swin stage, a [B, 768, 7, 7] map, becomes 49 visual tokens; the
# class prompts come from the frozen CLIP RN50 text encoder (OpenAI
# weights, computed once at initialisation). Head sizes are scaled to the
# Swin-T width; the schedule is illustrative, not tuned.
_base_ = [
    '../_base_/datasets/coco-lt_resnet-224.py',
    '../_base_/default_runtime.py', '../_base_/text_embeds/clip-rn50.py'
]

checkpoint = 'https://download.openmmlab.com/mmclassification/v0/swin-transformer/swin_tiny_224_b16x64_300e_imagenet_20210616_090925-66df6be6.pth'  # noqa
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SwinTransformer',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.2,
        out_indices=(3, ),
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    head=dict(
        type='VSIHead',
        num_classes=_base_.num_classes,
        in_channels=768,
        text_embeds=dict(_base_.clip_rn50_text_embeds, classnames='coco-lt'),
        embed_dims=768,
        num_heads=8,
        head_dims=96,
        mlp_dims=2048,
        loss=dict(type='CPRFLAsymmetricLoss')))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=20, T_max=20,
         convert_to_iter_based=True)
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
# NOTE: base_batch_size = (1 GPU) x (32 samples per GPU)
auto_scale_lr = dict(base_batch_size=32)
