# LT-GCN on VOC-LT with CLIP RN50: shared "a photo of a" prompts, the text
# tower frozen, the image tower fully fine-tuned, a residual 3-layer GCN on
# the text-similarity graph (p = 0.2), 10 * cosine logits, LT-GCN's static
# DB-Focal (mean over B x C; the official code sums), Adam (GCN lr x 10) +
# per-group OneCycle + EMA, batch 32, 224 px. One view per image (the
# consistency loss is not reproduced). See README.md.
_base_ = [
    '../_base_/models/lt-gcn_rn50.py',
    '../_base_/datasets/voc-lt_clip-rrc-224.py',
    '../_base_/schedules/adam-onecycle-16e.py',
    '../_base_/default_runtime.py',
    '../_base_/losses/lt-gcn-db-focal_voc-lt.py'
]

model = dict(
    backbone=dict(classnames='voc-lt'),
    head=dict(
        num_classes=_base_.num_classes,
        loss=dict(
            _base_.lt_gcn_db_focal_voc_lt_loss,
            class_stats=_base_.class_stats)))

# EMA decay 0.82^(1/90) = 0.997797 (the official VOC-LT value).
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExponentialMovingAverage',
        momentum=0.0022,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
