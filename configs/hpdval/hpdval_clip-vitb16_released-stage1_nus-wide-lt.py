# HP-DVAL stage 1 on NUS-WIDE-LT (this project's split of NUS-WIDE, not an
# official one: docs/en/prepare_data.md), `released` preset: exactly the
# COCO-LT recipe of hpdval_clip-vitb16_released-stage1_coco-lt.py (CLIP
# ViT-B/16 student and text tower fine-tuned, k = 16, local_weight = 0.5,
# batch 16, AdamW lr 1e-5, OneCycle over 80 epochs, EMA, input in [0, 1])
# on the 81 concepts. HP-DVAL has no NUS-WIDE-LT setting: DB* takes the
# COCO-LT constants (positives x 5, NTR lambda 2, mu 0.2), as the other
# NUS-WIDE-LT configs take their COCO-LT recipe (the larger label space).
# Stage 2 is hpdval_clip-vitb16_released-stage2_nus-wide-lt.py.
_base_ = [
    '../_base_/models/hpdval_clip-vitb16.py',
    '../_base_/datasets/nus-wide-lt_hpdval-224.py',
    '../_base_/schedules/adamw-onecycle-80e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/hpdval-db_coco-lt.py'
]

model = dict(
    head=dict(
        text=dict(classnames='nus-wide-lt'),
        loss=dict(_base_.hpdval_db_coco_lt_loss,
                  class_stats=_base_.class_stats)))
