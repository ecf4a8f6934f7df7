# A label-graph GCN on the synthetic benchmark, as the fair row beside
# CoOp: everything is coop_tinyclip_synthetic.py (frozen tiny CLIP with
# cached image features, class-specific context from "a photo of a",
# DB-Focal, SGD lr 0.05, 20 epochs) except the head, which refines the
# class text features with LT-GCN's adapter before the cosine classifier:
# T' = GCN(T) + T, a 3-layer GCN 128 -> 256 -> 256 -> 128 (LeakyReLU 0.2,
# no bias) on the text-similarity graph of the initial prompts (p = 0.2),
# logits with CLIP's scale as CoOp's. configs/labelgcn/README.md.
_base_ = './coop_tinyclip_synthetic.py'

model = dict(
    head=dict(
        _delete_=True,
        type='LabelGCNPromptHead',
        num_classes=_base_.num_classes,
        logit_scale=None,
        adapter=dict(
            type='GCNTextAdapter',
            in_dims=128,
            hidden_dims=(256, 256),
            residual=1.0,
            graph=dict(mode='text_similarity', topk=None, reweight=0.2)),
        loss=dict(
            _base_.db_focal_coco_lt_loss,
            class_stats=_base_.class_stats)))
