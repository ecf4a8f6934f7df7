# LMPT (Xia et al., arXiv 2305.04536) on VOC-LT with CLIP ViT-B/16:
# 16 class-specific context tokens, L = 0.5 * DB-Focal + 0.5 * CSE.
_base_ = [
    '../_base_/datasets/voc-lt_clip-224.py',
    '../_base_/schedules/sgd-coslr-30e.py', '../_base_/default_runtime.py'
]

model = dict(
    type='CLIPPromptClassifier',
    backbone=dict(
        type='CLIPPromptBackbone',
        classnames='voc-lt',
        clip_model_name='ViT-B-16',
        clip_pretrained='openai',
        prompt_learner=dict(n_ctx=16, class_specific=True, init_std=0.02)),
    head=dict(
        type='CLIPPromptHead',
        loss=dict(
            type='DBLoss',
            preset='db_focal_voc_lt',
            class_stats=_base_.class_stats),
        cse_loss=dict(
            type='CSELoss', eta=1.0, gamma=1.0,
            class_stats=_base_.class_stats),
        cse_space='encoder',
        lambda_cls=0.5))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
