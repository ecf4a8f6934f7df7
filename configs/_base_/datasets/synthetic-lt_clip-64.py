# The synthetic benchmark (synthetic-lt_64.py) for frozen-CLIP methods:
# captions of the training images are loaded (CSE loss) and image features
# of the frozen encoder are cached, both flips (see the COCO-LT CLIP base).
_base_ = './synthetic-lt_64.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=['caption']),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CachedFeatureDataset',
        dataset=dict(
            _base_.train_dataloader.dataset,
            caption_file='captions.txt',
            require_captions=True,
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CachedFeatureDataset',
        dataset=_base_.val_dataloader.dataset))
test_dataloader = val_dataloader
custom_hooks = [dict(type='FeatureCacheHook')]
