# Paper Table 2, row "DB Focal": the distribution-balanced focal loss (DB
# paper settings for COCO-LT) instead of ASL. The official code's DB copy is
# broken (its reductions and focal term are wrong); this is the plugin's
# DBLoss.
_base_ = './cprfl_r101_coco-lt.py'
model = dict(
    head=dict(
        loss=dict(
            _delete_=True,
            type='DBLoss',
            preset='db_focal_coco_lt',
            class_stats=_base_.class_stats)))
