# LMPT (Xia et al., arXiv 2305.04536) on COCO-LT with CLIP ViT-B/16:
# 16 class-specific context tokens, L = 0.5 * DB-Focal + 0.5 * CSE.
_base_ = [
    '../_base_/models/lmpt_vitb16.py',
    '../_base_/datasets/coco-lt_clip-224.py',
    '../_base_/schedules/sgd-coslr-30e.py', '../_base_/default_runtime.py'
]

# The CSE loss reads the first 75 characters of each caption line, as the
# released code does (about the first of the five COCO captions).
model = dict(
    head_inputs=dict(captions=dict(max_chars=75)),
    backbone=dict(classnames='coco-lt'),
    head=dict(
        loss=dict(class_stats=_base_.class_stats),
        cse_loss=dict(class_stats=_base_.class_stats)))

optim_wrapper = dict(optimizer=dict(lr=1e-4))
