# CPRFL (Yan et al., ACM MM 2024, arXiv 2408.08125) on NUS-WIDE-LT (this
# project's split, docs/en/prepare_data.md): ResNet-101 at 448 px + VSI
# head on the CLIP RN50 class embeddings, CPRFL's ASL; the COCO-LT recipe
# (no published NUS-WIDE-LT setting). See README.md.
_base_ = [
    '../_base_/models/cprfl_r101.py',
    '../_base_/datasets/nus-wide-lt_cprfl-448.py',
    '../_base_/schedules/adamw-onecycle-30e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        text_embeds=dict(classnames='nus-wide-lt')))
