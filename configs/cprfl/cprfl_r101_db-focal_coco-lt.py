# Paper Table 2, row "DB Focal": the distribution-balanced focal loss (DB
# paper settings for COCO-LT) instead of ASL. The official code's DB copy is
# broken (its reductions and focal term are wrong); this is the plugin's
# DBLoss.
_base_ = ['./cprfl_r101_coco-lt.py', '../_base_/losses/db-focal_coco-lt.py']
model = dict(
    head=dict(
        loss=dict(
            _base_.db_focal_coco_lt_loss,
            _delete_=True,
            class_stats=_base_.class_stats)))
