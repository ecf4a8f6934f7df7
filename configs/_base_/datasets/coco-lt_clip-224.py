# COCO-LT (Wu et al. 2020 split) for CLIP models: 224 px squash resize
# with PIL bilinear interpolation (as LMPT's released code,
# lmpt/imagelist.py: torchvision Resize((224, 224))), horizontal flip, CLIP
# normalisation (the code uses ImageNet's; see configs/lmpt/README.md),
# captions for the CSE loss.
# Layout and files: docs/en/prepare_data.md.
dataset_type = 'COCOLTDataset'
data_root = 'data/coco'
num_classes = 80
# Training-set class statistics, computed from the list file by every
# component that needs them (losses, metric, sampler): nothing is copied.
class_stats = dict(
    ann_file=data_root + '/coco_lt_train.txt',
    label_file=data_root + '/coco_labels.txt')

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
    to_onehot=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), interpolation='bilinear',
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=['caption']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), interpolation='bilinear',
         backend='pillow'),
    dict(type='PackInputs'),
]

# The image encoder is frozen and the pipelines are deterministic up to the
# flip, so the datasets serve cached image features (both flips), computed
# once by FeatureCacheHook with the model's own encoder: exact, and no image
# is decoded after the first pass. Switch off with `enable=False`; keep a
# disk copy with `cache_dir=...`.
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(
        type='CachedFeatureDataset',
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='train',
            with_captions=True,
            pipeline=train_pipeline)),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type='CachedFeatureDataset',
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='test',
            pipeline=test_pipeline)),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
custom_hooks = [dict(type='FeatureCacheHook')]

# The official protocol has no val split: the "val" loop evaluates the test
# split and the reported number is the last epoch's (no model selection).
val_evaluator = dict(type='GroupMAP', class_stats=class_stats)
test_evaluator = val_evaluator
