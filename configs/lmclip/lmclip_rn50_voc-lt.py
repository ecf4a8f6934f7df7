# LM-CLIP (Timmermann et al., IEEE Access 2025) on VOC-LT with CLIP RN50, the
# official recipe of configs/voc_mlt_rn50.py (damilab/lm-clip HEAD 9983999):
# L = L_CLIP + 0.2 * BAL, images drawn with
# OccurrenceWeightedSampler(power=0.7) (the BAL class-weight power too), AdamW
# lr 2e-6, 50 epochs, batch 8.
_base_ = [
    '../_base_/models/lmclip_rn50.py',
    '../_base_/datasets/voc-lt_lmclip-224.py',
    '../_base_/schedules/adamw-coslr-50e_lmclip.py',
    '../_base_/default_runtime.py', '../_base_/losses/bal_voc-lt_rn50.py'
]

model = dict(
    head_inputs=dict(label_captions=dict(classnames='voc-lt')),
    head=dict(
        num_classes=_base_.num_classes,
        text_embeds=dict(classnames='voc-lt'),
        loss=dict(
            _base_.bal_voc_lt_rn50_loss,
            class_stats=_base_.class_stats)))

train_dataloader = dict(
    sampler=dict(_delete_=True, type='OccurrenceWeightedSampler', power=0.7))
optim_wrapper = dict(optimizer=dict(lr=2e-6))
