# VOC-LT (Wu et al. 2020 split) with the DB paper's ResNet input recipe
# (docs: configs/baselines/README.md): 224 px squash resize, ImageNet
# normalisation, photometric distortion, a random crop of 0.8-1.0 of each
# side and a horizontal flip for training; resize only for testing.
# Layout and files: docs/en/prepare_data.md.
dataset_type = 'VOCLTDataset'
data_root = 'data/voc'
num_classes = 20
# Training-set class statistics, computed from the list file by every
# component that needs them (losses, metric, sampler): nothing is copied.
class_stats = dict(
    ann_file=data_root + '/voc_lt_train.txt',
    label_file=data_root + '/voc_labels.txt')

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True)

# The official PhotoMetricDistortion + RandomCrop approximated with
# mmpretrain/mmcv transforms (differences: configs/baselines/README.md).
# No hue jitter: mmcv 2.2's adjust_hue raises OverflowError for negative
# shifts under NumPy 2, and no channel permutation (no such transform).
# After a squash to 280 = 224 / 0.8 the official crop (each side 0.8-1.0
# of the image) is a crop of area 0.64-1.0 and aspect 0.8-1.25 of the
# square image; RandomResizedCrop draws one from these ranges (uniform
# area, so not exactly the official distribution) and resizes it to 224.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(280, 280)),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.25, backend='cv2')],
        prob=0.5),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', contrast=0.5, backend='cv2')],
        prob=0.5),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', saturation=0.5, backend='cv2')],
        prob=0.5),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.64, 1.0),
        aspect_ratio_range=(0.8, 1.25)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]

# Uniform sampling; the class-aware configs replace the sampler.
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

# The official protocol has no val split: the "val" loop evaluates the test
# split and the reported number is the last epoch's (no model selection).
val_evaluator = dict(type='GroupMAP', class_stats=class_stats)
test_evaluator = val_evaluator
