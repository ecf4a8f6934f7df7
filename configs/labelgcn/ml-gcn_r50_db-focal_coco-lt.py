# ML-GCN's classifiers (Chen et al., CVPR 2019) on the DB-Focal ResNet-50
# baseline of COCO-LT: the classifiers W = GCN(T) [C, 2048] of a 2-layer
# GCN (1024 -> 1024 -> 2048, LeakyReLU 0.2, no bias, no residual) over the
# frozen CLIP RN50 text embeddings of "a photo of a {}." (ML-GCN used
# GloVe) on ML-GCN's co-occurrence graph of the training split (tau 0.4,
# p 0.25, D^-1/2 A^T D^-1/2), logits x W^T with x the global-max-pooled
# 2048-d feature. Backbone, input recipe, DB-Focal loss, class-aware
# sampler and schedule are those of ../baselines/resnet50_db-focal_coco-lt.py
# (the PFC neck replaced by the pooling), so the head is the difference.
_base_ = [
    '../baselines/resnet50_db-focal_coco-lt.py',
    '../_base_/text_embeds/clip-rn50.py'
]

model = dict(
    neck=None,
    head=dict(
        _delete_=True,
        type='LabelGCNClsHead',
        num_classes=_base_.num_classes,
        in_channels=2048,
        pool='max',
        text_embeds=dict(_base_.clip_rn50_text_embeds, classnames='coco-lt'),
        adapter=dict(
            type='GCNTextAdapter',
            hidden_dims=(1024, ),  # in_dims / out_dims: from the head
            residual=None,
            graph=dict(
                mode='cooccurrence',
                class_stats=_base_.class_stats,
                threshold=0.4,
                reweight=0.25)),
        loss=dict(
            _base_.db_focal_coco_lt_loss, class_stats=_base_.class_stats)))
