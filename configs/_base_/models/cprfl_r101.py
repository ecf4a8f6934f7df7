# CPRFL (Yan et al., ACM MM 2024, arXiv 2408.08125): ResNet-101 (ImageNet
# weights, fully fine-tuned) + VSI head whose class prompts come from the
# CLIP RN50 text embeddings of "a photo of a {}." (frozen), trained with
# CPRFL's ASL. Dataset configs set ``num_classes`` and the classnames of
# ``text_embeds``.
_base_ = ['../text_embeds/clip-rn50.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=101,
        out_indices=(3, ),
        style='pytorch',
        frozen_stages=-1,
        norm_eval=False,
        # torchvision ImageNet-1k V1 weights (`resnet101(pretrained=True)`,
        # what the official code loads from a local file); mmpretrain's
        # ResNet has torchvision's parameter names, so they load as they
        # are (only `fc.*` is unused). The mmpretrain model-zoo weights work
        # too: checkpoint='https://download.openmmlab.com/mmclassification/
        # v0/resnet/resnet101_8xb32_in1k_20210831-539c63f8.pth',
        # prefix='backbone'.
        init_cfg=dict(
            type='Pretrained', checkpoint='torchvision://resnet101')),
    head=dict(
        type='VSIHead',
        in_channels=2048,
        # OpenAI CLIP RN50 (QuickGELU build), text tower frozen: the class
        # embeddings [C, 1024] are computed once and stored as a buffer.
        text_embeds=_base_.clip_rn50_text_embeds,
        embed_dims=2048,
        num_heads=8,
        head_dims=512,
        mlp_dims=2048,
        dropout=0.1,
        pi_ratio=0.5,
        loss=dict(
            type='CPRFLAsymmetricLoss', gamma_pos=0., gamma_neg=4.,
            clip=0.05)))
