# Mixing components: CPRFL's VSI head on the patch tokens of the frozen
# CLIP ViT-B/16 image encoder (the image tower LMPT prompts), instead of a
# fine-tuned ResNet-101. At 224 px ViT-B/16 gives 14 x 14 tokens of width
# 768, the same token count as ResNet-101 at 448 px. The class prompts come
# from the same CLIP's text tower (512-d); for CPRFL's RN50 text embeddings
# set head.text_embeds.clip_model_name='RN50-quickgelu'. Training recipe as
# CPRFL's.
_base_ = './cprfl_r101_coco-lt.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='CLIPVisionBackbone',
        clip_model_name='ViT-B-16-quickgelu',
        clip_pretrained='openai',
        frozen=True),
    head=dict(
        in_channels=768,
        text_embeds=dict(
            clip_model_name='ViT-B-16-quickgelu', clip_pretrained='openai')))

# CLIP's input: 224 px (bicubic) and CLIP normalisation
data_preprocessor = dict(
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305])
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False,
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomColorCutout', cutout_factor=0.5),
    dict(type='CPRFLRandAugment'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False,
         interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
