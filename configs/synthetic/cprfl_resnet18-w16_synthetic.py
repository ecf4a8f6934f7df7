# CPRFL on the synthetic benchmark: the quarter-width ResNet-18 from scratch
# + VSI head whose category prompts are the shipped tiny CLIP's text
# embeddings of "a photo of a {}." (frozen), trained with CPRFL's ASL.
_base_ = [
    './resnet18-w16_bce_synthetic.py',
    '../_base_/text_embeds/tinyclip-synthetic.py'
]
model = dict(
    neck=None,
    head=dict(
        _delete_=True,
        type='VSIHead',
        num_classes=_base_.num_classes,
        in_channels=128,
        text_embeds=dict(
            _base_.tinyclip_synthetic_text_embeds,
            classnames=_base_.data_root + '/labels.txt'),
        embed_dims=128,
        num_heads=4,
        head_dims=32,
        mlp_dims=256,
        dropout=0.1,
        pi_ratio=0.5,
        loss=dict(
            type='CPRFLAsymmetricLoss', gamma_pos=0., gamma_neg=4.,
            clip=0.05)))
