# CPRFL ablation (Fig. 3, "random"): the PI network maps fixed random
# N(0, 1) embeddings (width 1024, as CLIP RN50's) instead of the CLIP text
# embeddings of the class names. Paper: 63.9 total mAP on COCO-LT.
_base_ = [
    './cprfl_r101_coco-lt.py', '../_base_/text_embeds/random-1024.py'
]
model = dict(
    head=dict(
        text_embeds=dict(_base_.random_1024_text_embeds, _delete_=True)))
