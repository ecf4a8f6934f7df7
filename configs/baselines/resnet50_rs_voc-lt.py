# DB-paper baseline on VOC-LT, ResNet-50 recipe (configs/baselines/README.md).
# RS: plain BCE with class-aware re-sampling.
_base_ = [
    '../_base_/models/resnet50_pfc.py',
    '../_base_/datasets/voc-lt_resnet-224.py',
    '../_base_/schedules/sgd-steplr-8e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        loss=_base_.bce_loss))

# Class-aware sampling as in the official code: 3 images per class draw,
# floor(max_c n_c * C / 4) samples per epoch, the incomplete last batch
# dropped.
train_dataloader = dict(
    sampler=dict(
        _delete_=True,
        type='ClassAwareSampler',
        num_samples_cls=3,
        reduce=4),
    drop_last=True)
