# The DB paper's model (Wu et al., ECCV 2020): an ImageNet ResNet-50 with
# the stem and stage 1 frozen and every backbone BN in eval mode, the "PFC"
# neck (global average pooling, Linear 2048->256, BatchNorm1d, Dropout 0.5,
# no activation) and a linear multi-label head 256->C with N(0, 0.01)
# weights. The final configs set ``num_classes`` and the loss.
_base_ = ['../losses/bce.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        frozen_stages=1,
        norm_eval=True,
        # torchvision's ImageNet weights load as they are: mmpretrain's
        # ResNet uses torchvision's parameter names (only ``fc.*`` is left
        # over). mmengine resolves the name to the IMAGENET1K_V1 file.
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    # LinearNeck runs gap -> fc -> norm -> act; the "activation" slot holds
    # the dropout (mmcv's registered ``Dropout``), which is exactly PFC.
    neck=dict(
        type='LinearNeck',
        in_channels=2048,
        out_channels=256,
        gap_dim=2,
        norm_cfg=dict(type='BN1d'),
        act_cfg=dict(type='Dropout', drop_prob=0.5),
        init_cfg=[
            dict(
                type='Kaiming',
                layer='Linear',
                mode='fan_out',
                nonlinearity='relu',
                distribution='normal',
                bias=0),
            dict(type='Constant', layer='_BatchNorm', val=1, bias=0)
        ]),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=80,
        in_channels=256,
        # DBLoss averages over the B x C elements (the official runner's
        # scale, which lr 0.02 and grad clip 35 were tuned for).
        loss=_base_.bce_loss,
        init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0)))
