# LM-CLIP (Timmermann et al., IEEE Access 2025) on COCO-LT with CLIP RN50, the
# official recipe of configs/coco_mlt_rn50.py (damilab/lm-clip HEAD 9983999):
# L = L_CLIP + 6.0 * BAL, images drawn with
# OccurrenceWeightedSampler(power=1.35) (the BAL class-weight power too), AdamW
# lr 1e-7, 50 epochs, batch 8.
_base_ = [
    '../_base_/models/lmclip_rn50.py',
    '../_base_/datasets/coco-lt_lmclip-224.py',
    '../_base_/schedules/adamw-coslr-50e_lmclip.py',
    '../_base_/default_runtime.py', '../_base_/losses/bal_coco-lt_rn50.py'
]

model = dict(
    head_inputs=dict(label_captions=dict(classnames='coco-lt')),
    head=dict(
        num_classes=_base_.num_classes,
        text_embeds=dict(classnames='coco-lt'),
        loss=dict(
            _base_.bal_coco_lt_rn50_loss,
            class_stats=_base_.class_stats)))

train_dataloader = dict(
    sampler=dict(_delete_=True, type='OccurrenceWeightedSampler', power=1.35))
optim_wrapper = dict(optimizer=dict(lr=1e-7))
