# The built-in synthetic long-tailed multi-label benchmark (24 "<colour>
# <shape>" classes, 64 px, COCO-LT file formats), made by
#   python tools/dataset_converters/generate_synthetic.py --out data/synthetic
# Plain image pipelines, for trainable backbones (CNN baselines, CPRFL);
# frozen-CLIP methods use synthetic-lt_clip-64.py (cached features).
dataset_type = 'LTMultiLabelDataset'
data_root = 'data/synthetic'
num_classes = 24
# Training-set class statistics (losses, group-mAP), computed from the list.
class_stats = dict(
    ann_file=data_root + '/train.txt', label_file=data_root + '/labels.txt')

# The tiny CLIP's (= OpenAI CLIP's) normalisation, for every method.
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
    to_onehot=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,  # torch refuses it without workers
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        label_file='labels.txt',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.txt',
        label_file='labels.txt',
        test_mode=True,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
# No val split: the "val" loop evaluates the test split; the reported number
# is the last epoch's.
val_evaluator = dict(type='GroupMAP', class_stats=class_stats)
test_evaluator = val_evaluator
