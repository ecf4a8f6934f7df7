# CPRFL (Yan et al., ACM MM 2024, arXiv 2408.08125) on COCO-LT: ResNet-101
# at 448 px + VSI head on the CLIP RN50 class embeddings, CPRFL's ASL.
# Paper and code differ on several points; this config follows the paper
# where they disagree on the protocol (frozen text encoder, 30 epochs) and
# the code elsewhere (batch 16, AdamW + OneCycle, EMA). See README.md.
_base_ = [
    '../_base_/models/cprfl_r101.py',
    '../_base_/datasets/coco-lt_cprfl-448.py',
    '../_base_/schedules/adamw-onecycle-30e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        num_classes=_base_.num_classes,
        text_embeds=dict(classnames='coco-lt')))
