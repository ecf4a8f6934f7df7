# DB-paper baseline on VOC-LT, ResNet-50 recipe (configs/baselines/README.md).
# R-BCE-Focal: DB-Focal without the negative-tolerant regularisation, i.e.
# focal loss with the DB re-balanced weights (alpha 0.1, beta 10, mu 0.2),
# class-aware re-sampling.
_base_ = [
    './resnet50_db-focal_voc-lt.py', '../_base_/losses/r-bce-focal_voc-lt.py'
]
model = dict(
    head=dict(
        loss=dict(
            _base_.r_bce_focal_voc_lt_loss,
            _delete_=True,
            class_stats=_base_.class_stats)))
