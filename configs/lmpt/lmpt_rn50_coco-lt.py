# LMPT with the CLIP ResNet-50 (OpenAI weights need the QuickGELU build).
_base_ = './lmpt_vitb16_coco-lt.py'
model = dict(backbone=dict(clip_model_name='RN50-quickgelu'))
