# ResNet baseline with the DB-Focal loss (COCO-LT settings: re-balanced
# weights, negative-tolerant regularisation, focal) on the benchmark's
# training statistics.
_base_ = [
    './resnet18-w16_bce_synthetic.py', '../_base_/losses/db-focal_coco-lt.py'
]
model = dict(
    head=dict(
        loss=dict(
            _base_.db_focal_coco_lt_loss, class_stats=_base_.class_stats)))
