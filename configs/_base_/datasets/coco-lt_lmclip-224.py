# COCO-LT (Wu et al. 2020 split) for CLIP fine-tuned end to end (LM-CLIP):
# 224 px squash resize with PIL bilinear interpolation and horizontal flip
# (official dataset_loaders/coco_mlt.py:237-254: torchvision
# Resize((224, 224)), RandomHorizontalFlip), batch 8, CLIP normalisation
# (the official code uses ImageNet's: see configs/lmclip/README.md), each
# image's label ids in list-file order (the label captions name them in
# that order). Images are decoded and encoded at every step: the image
# tower trains, so no feature cache. The method configs choose the
# sampler (OccurrenceWeightedSampler with their power).
# Layout and files: docs/en/prepare_data.md.
dataset_type = 'COCOLTDataset'
data_root = 'data/coco'
num_classes = 80
# Training-set class statistics, computed from the list file by every
# component that needs them (loss, metric): nothing is copied.
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
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), interpolation='bilinear',
         backend='pillow'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        label_order='file',
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
