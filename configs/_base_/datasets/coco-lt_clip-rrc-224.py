# COCO-LT (Wu et al. 2020 split) for CLIP models whose image tower is
# trained (LT-GCN's weak view, Wang-zuozheng/LT-GCN scpnet.py:264-273):
# random resized crop to 224 (area 0.08-1, aspect 3/4-4/3, bilinear) and a
# horizontal flip for training; resize of the short side to 224 and a
# centre crop for testing; CLIP normalisation. Images are decoded every
# epoch (no feature cache: the tower changes). Layout and files:
# docs/en/prepare_data.md.
dataset_type = 'COCOLTDataset'
data_root = 'data/coco'
num_classes = 80
# Training-set class statistics, computed from the list file by every
# component that needs them (losses, metric): nothing is copied.
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
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0),
         backend='pillow', interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow',
         interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

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
