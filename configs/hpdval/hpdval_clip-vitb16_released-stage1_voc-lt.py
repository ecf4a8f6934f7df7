# HP-DVAL stage 1 on VOC-LT, `released` preset: the recipe that produced
# the headline checkpoints (ref-hpdval.md §0.1, §3.3). CLIP ViT-B/16 student
# and text tower fine-tuned, both views scored against "a photo of a {}.",
# k = 16, local_weight = 0.5, DB* (positives x 10, batch-level focal factor),
# batch 16, AdamW lr 1e-5, OneCycle over 80 epochs, EMA, input in [0, 1].
# The released code's distillation loss is identically 0 (its teacher is
# the student's own modules), so this preset has none; the `paper` preset
# distils from a separate frozen CLIP. See README.md.
_base_ = [
    '../_base_/models/hpdval_clip-vitb16.py',
    '../_base_/datasets/voc-lt_hpdval-224.py',
    '../_base_/schedules/adamw-onecycle-80e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/hpdval-db_voc-lt.py'
]

model = dict(
    head=dict(
        text=dict(classnames='voc-lt'),
        loss=dict(_base_.hpdval_db_voc_lt_loss, class_stats=_base_.class_stats)))
