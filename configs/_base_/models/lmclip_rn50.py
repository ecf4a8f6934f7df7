# LM-CLIP with open_clip RN50 (OpenAI weights, QuickGELU build): as
# lmclip_vitb16.py with the other CLIP in both towers. The RN50
# BatchNorms train with batch 8, as in the official code.
_base_ = './lmclip_vitb16.py'
model = dict(
    backbone=dict(clip_model_name='RN50-quickgelu'),
    head=dict(text_embeds=dict(clip_model_name='RN50-quickgelu')))
