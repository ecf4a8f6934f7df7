# CPRFL with random category prompts (Fig. 3 ablation): the PI network maps
# fixed N(0, 1) embeddings of the tiny CLIP's width instead of its text
# embeddings, so the class names are not used.
_base_ = './cprfl_resnet18-w16_synthetic.py'
model = dict(head=dict(random_text_dims=128))
