# LMPT (Xia et al., arXiv 2305.04536) on NUS-WIDE-LT (this project's split
# of NUS-WIDE, not an official one: docs/en/prepare_data.md) with CLIP
# ViT-B/16. No published NUS-WIDE-LT setting exists: the COCO-LT recipe
# (81 vs 80 classes, the larger label space): lr 1e-4 and DB-Focal with
# COCO-LT's constants. The CSE loss reads each training image's Flickr
# tags as its caption (NUS-WIDE has no captions).
_base_ = [
    '../_base_/models/lmpt_vitb16.py',
    '../_base_/datasets/nus-wide-lt_clip-224.py',
    '../_base_/schedules/sgd-coslr-30e.py', '../_base_/default_runtime.py'
]

model = dict(
    head_inputs=dict(captions=dict(max_chars=75)),
    backbone=dict(classnames='nus-wide-lt'),
    head=dict(
        loss=dict(class_stats=_base_.class_stats),
        cse_loss=dict(class_stats=_base_.class_stats)))

optim_wrapper = dict(optimizer=dict(lr=1e-4))
