# CPRFL with random category prompts (Fig. 3 ablation): the PI network maps
# fixed N(0, 1) embeddings of the tiny CLIP's width instead of its text
# embeddings, so the class names are not used.
_base_ = [
    './cprfl_resnet18-w16_synthetic.py', '../_base_/text_embeds/random-128.py'
]
model = dict(
    head=dict(
        text_embeds=dict(_base_.random_128_text_embeds, _delete_=True)))
