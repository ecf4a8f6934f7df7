# Code-faithful text encoder: the official code trains the CLIP RN50 text
# tower with the rest of the model (its freezing block is commented out)
# and recomputes the class embeddings every step; the paper says it is
# frozen (the default config). The EMA also averages the text tower.
_base_ = './cprfl_r101_coco-lt.py'
model = dict(head=dict(text_embeds=dict(trainable=True)))
