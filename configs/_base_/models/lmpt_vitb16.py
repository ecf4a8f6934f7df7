# LMPT (Xia et al., arXiv 2305.04536): a frozen open_clip ViT-B/16 (OpenAI
# weights), 16 class-specific context tokens drawn from N(0, 0.02^2) in
# front of each class name, logits logit_scale * cos(image, class text),
# and L = 0.5 * L_cls + 0.5 * L_cse with the CSE loss on text-encoder
# features. Dataset configs set the class names and the class statistics
# of both losses (and the DB-Focal fragment of their dataset).
_base_ = ['../losses/db-focal_coco-lt.py']
model = dict(
    type='CLIPPromptClassifier',
    # the CSE loss's captions: frozen text-encoder features of each caption
    head_inputs=dict(captions=dict(type='CaptionFeaturesInput')),
    backbone=dict(
        type='CLIPPromptBackbone',
        clip_model_name='ViT-B-16-quickgelu',
        clip_pretrained='openai',
        prompt_learner=dict(n_ctx=16, class_specific=True, init_std=0.02)),
    head=dict(
        type='CLIPPromptHead',
        loss=_base_.db_focal_coco_lt_loss,
        cse_loss=dict(type='CSELoss', eta=1.0, gamma=1.0),
        lambda_cls=0.5))
