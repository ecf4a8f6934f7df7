# LM-CLIP (Timmermann et al., IEEE Access 2025) on COCO-LT with CLIP ViT-B/16,
# the official recipe of configs/coco_mlt_vitb16.py (damilab/lm-clip HEAD
# 9983999):
# L = L_CLIP + 5.0 * BAL, images drawn with
# OccurrenceWeightedSampler(power=1.6) (the BAL class-weight power too), AdamW
# lr 1e-6, 50 epochs, batch 8.
_base_ = [
    '../_base_/models/lmclip_vitb16.py',
    '../_base_/datasets/coco-lt_lmclip-224.py',
    '../_base_/schedules/adamw-coslr-50e_lmclip.py',
    '../_base_/default_runtime.py', '../_base_/losses/bal_coco-lt_vitb16.py'
]

model = dict(
    head_inputs=dict(label_captions=dict(classnames='coco-lt')),
    head=dict(
        num_classes=_base_.num_classes,
        text_embeds=dict(classnames='coco-lt'),
        loss=dict(
            _base_.bal_coco_lt_vitb16_loss,
            class_stats=_base_.class_stats)))

train_dataloader = dict(
    sampler=dict(_delete_=True, type='OccurrenceWeightedSampler', power=1.6))
optim_wrapper = dict(optimizer=dict(lr=1e-6))
