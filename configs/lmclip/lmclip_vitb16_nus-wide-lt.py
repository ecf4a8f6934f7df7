# LM-CLIP (Timmermann et al., IEEE Access 2025) on NUS-WIDE-LT (this
# project's split of NUS-WIDE, not an official one: docs/en/prepare_data.md)
# with CLIP ViT-B/16. No published NUS-WIDE-LT setting exists: the COCO-LT
# ViT-B/16 recipe (81 vs 80 classes, the larger label space):
# L = L_CLIP + 5.0 * BAL, images drawn with
# OccurrenceWeightedSampler(power=1.6) (the BAL class-weight power too), AdamW
# lr 1e-6, 50 epochs, batch 8. The label captions name the NUS-WIDE concepts
# ("a photo of a sky, clouds"); the Flickr-tag captions are not used.
_base_ = [
    '../_base_/models/lmclip_vitb16.py',
    '../_base_/datasets/nus-wide-lt_lmclip-224.py',
    '../_base_/schedules/adamw-coslr-50e_lmclip.py',
    '../_base_/default_runtime.py', '../_base_/losses/bal_coco-lt_vitb16.py'
]

model = dict(
    head_inputs=dict(label_captions=dict(classnames='nus-wide-lt')),
    head=dict(
        num_classes=_base_.num_classes,
        text_embeds=dict(classnames='nus-wide-lt'),
        loss=dict(
            _base_.bal_coco_lt_vitb16_loss,
            class_stats=_base_.class_stats)))

train_dataloader = dict(
    sampler=dict(_delete_=True, type='OccurrenceWeightedSampler', power=1.6))
optim_wrapper = dict(optimizer=dict(lr=1e-6))
