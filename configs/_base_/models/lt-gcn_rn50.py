# LT-GCN (Wang-zuozheng/LT-GCN, the SCPNet code with the long-tail changes;
# ref-labelgcn.md §0-§3): CLIP RN50 (OpenAI weights, QuickGELU build), one
# shared context of 4 tokens initialised from "a photo of a" in front of
# each class name, the frozen text tower, a 3-layer GCN over the class text
# features (1024 -> 2048 -> 2048 -> 1024, LeakyReLU 0.2, no bias, residual
# weight 1) on the text-similarity graph (p = 0.2, all neighbours kept), and
# logits 10 * cos(image, refined text). The image tower is fully fine-tuned
# (BatchNorm in train mode), as in the official code. Dataset configs set
# the class names, the class count and the DB-Focal fragment of their
# dataset.
_base_ = ['../losses/lt-gcn-db-focal_coco-lt.py']
model = dict(
    type='CLIPPromptClassifier',
    backbone=dict(
        type='CLIPPromptBackbone',
        clip_model_name='RN50-quickgelu',
        clip_pretrained='openai',
        prompt_learner=dict(ctx_init='a photo of a', class_specific=False),
        image_tower_trainable=True),
    head=dict(
        type='LabelGCNPromptHead',
        # LT-GCN's fixed scale (CLIP's logit_scale is not used)
        logit_scale=10.0,
        adapter=dict(
            type='GCNTextAdapter',
            in_dims=1024,
            hidden_dims=(2048, 2048),
            residual=1.0,
            # cosine similarities of the class text features of the
            # initial prompts "a photo of a {name}." (the adapter's first
            # input), stored in checkpoints; SCPNet's p = 0.2, top-k = C
            graph=dict(mode='text_similarity', topk=None, reweight=0.2)),
        loss=_base_.lt_gcn_db_focal_coco_lt_loss))
