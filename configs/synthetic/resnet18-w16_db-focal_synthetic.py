# ResNet baseline with the DB-Focal loss (COCO-LT settings: re-balanced
# weights, negative-tolerant regularisation, focal) on the benchmark's
# training statistics.
_base_ = './resnet18-w16_bce_synthetic.py'
model = dict(
    head=dict(
        loss=dict(preset='db_focal_coco_lt', class_stats=_base_.class_stats)))
