# CoOp with the CLIP ResNet-50 (OpenAI weights, QuickGELU build).
_base_ = './coop_vitb16_voc-lt.py'
model = dict(backbone=dict(clip_model_name='RN50-quickgelu'))
