# Zero-shot CLIP ResNet-50 (OpenAI weights, QuickGELU build).
_base_ = './clip_vitb16_zeroshot_voc-lt.py'
model = dict(backbone=dict(clip_model_name='RN50-quickgelu'))
