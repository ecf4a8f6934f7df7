# COCO-LT (Wu et al. 2020 split) with HP-DVAL's data recipe (released code,
# ref-hpdval.md §3.1): images decoded with Pillow and squashed to 224 x 224
# (bilinear); for training one random-colour cutout of half the image side
# (CutoutPIL(0.5), always applied) and the UDA-style RandAugment of the
# `randaugment` package (2 of 15 ops, magnitude bins 1-9, p = 0.5, grey
# fill): the same two transforms as CPRFL's pipeline, which comes from the
# same ASL code base (RandomColorCutout, CPRFLRandAugment); resize only for
# testing; input in [0, 1] (ToTensor only, no mean / std), batch 16, plain
# shuffling. CLIP's own normalisation is the alternative (the `paper`
# preset uses it): mean=clip_mean, std=clip_std below.
# Layout and files: docs/en/prepare_data.md.
dataset_type = 'COCOLTDataset'
data_root = 'data/coco'
num_classes = 80
# Training-set class statistics, computed from the list file by every
# component that needs them (losses, metric): nothing is copied.
class_stats = dict(
    ann_file=data_root + '/coco_lt_train.txt',
    label_file=data_root + '/coco_labels.txt')

clip_mean = [122.770938, 116.7460125, 104.09373615]
clip_std = [68.5005327, 66.6321579, 70.32316305]
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[0., 0., 0.],
    std=[255., 255., 255.],
    to_rgb=True,
    to_onehot=True)

train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False,
         interpolation='bilinear', backend='pillow'),
    dict(type='RandomColorCutout', cutout_factor=0.5),
    dict(type='CPRFLRandAugment'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False,
         interpolation='bilinear', backend='pillow'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=16,
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
