# HP-DVAL stage 1 on COCO-LT, `paper` preset, with the student the paper
# describes (Sec. IV-A.3): an ImageNet-1k ViT-B/16 from timm whose [CLS] and
# patch tokens pass through a two-layer embedding 768 -> 512 -> 512
# (Linear-Tanh-Linear) into CLIP's space, distilled from the frozen CLIP
# ViT-B/16 (which the released code never does: its student is CLIP's own
# tower). The ViT sees CLIP-normalised images (the paper states no
# normalisation; timm's augreg weights were trained with mean = std = 0.5).
_base_ = './hpdval_clip-vitb16_paper-stage1_coco-lt.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='TimmDualViewBackbone',
        model_name='vit_base_patch16_224.augreg_in1k',
        pretrained=True,  # timm's weights, or a local file path
        embed_dims=(512, 512)))
