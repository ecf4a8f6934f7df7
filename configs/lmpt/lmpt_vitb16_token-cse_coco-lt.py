# LMPT with the CSE loss on token embeddings, as in the released code:
# caption token embeddings against the prompt sequence shifted by 2.
_base_ = './lmpt_vitb16_coco-lt.py'
model = dict(head=dict(cse_space='token', token_shift=2))
