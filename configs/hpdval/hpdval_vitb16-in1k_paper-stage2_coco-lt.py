# HP-DVAL stage 2 on COCO-LT, `paper` preset, with the paper's ImageNet-1k
# ViT-B/16 student (frozen; loaded from
# hpdval_vitb16-in1k_paper-stage1_coco-lt.py's checkpoint with
# `--cfg-options load_from=...`).
_base_ = './hpdval_clip-vitb16_paper-stage2_coco-lt.py'
previous_stage = './hpdval_vitb16-in1k_paper-stage1_coco-lt.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='TimmDualViewBackbone',
        model_name='vit_base_patch16_224.augreg_in1k',
        # stage 1's weights replace these (load_from)
        pretrained=False,
        embed_dims=(512, 512),
        frozen=True))
