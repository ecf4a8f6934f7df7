# VOC-LT (Wu et al. 2020 split) with CPRFL's data recipe:
# images decoded and squashed to 448 x 448 with Pillow (bilinear), as the
# official code; one random-colour cutout + CPRFL's RandAugment for
# training, resize only for testing; input in [0, 1] without mean/std
# normalisation; batch 16; plain shuffling (no re-sampling).
# Layout and files: docs/en/prepare_data.md.
dataset_type = 'VOCLTDataset'
data_root = 'data/voc'
num_classes = 20
# Training-set class statistics, computed from the list file by every
# component that needs them (losses, metric): nothing is copied.
class_stats = dict(
    ann_file=data_root + '/voc_lt_train.txt',
    label_file=data_root + '/voc_labels.txt')

# ToTensor only: pixels / 255 in RGB order. The backbone's torchvision
# weights were trained with ImageNet normalisation; to use it instead:
#   mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[0., 0., 0.],
    std=[255., 255., 255.],
    to_rgb=True,
    to_onehot=True)

train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(448, 448), keep_ratio=False,
         interpolation='bilinear', backend='pillow'),
    dict(type='RandomColorCutout', cutout_factor=0.5),
    dict(type='CPRFLRandAugment'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(448, 448), keep_ratio=False,
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
    batch_size=32,
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
