# DB-paper baseline on NUS-WIDE-LT (this project's split of NUS-WIDE,
# docs/en/prepare_data.md), ResNet-50 recipe (configs/baselines/README.md).
# DB-Focal with the COCO-LT constants (no published NUS-WIDE-LT setting):
# re-balanced weights (alpha 0.1, beta 10, mu 0.2), negative-tolerant
# regularisation (lambda 2, kappa 0.05) and focal loss, with class-aware
# re-sampling.
_base_ = [
    '../_base_/models/resnet50_pfc.py',
    '../_base_/datasets/nus-wide-lt_resnet-224.py',
    '../_base_/schedules/sgd-steplr-8e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/db-focal_coco-lt.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        loss=dict(
            _base_.db_focal_coco_lt_loss,
            class_stats=_base_.class_stats)))

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
