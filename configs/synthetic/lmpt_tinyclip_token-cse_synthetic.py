# LMPT with the CSE loss on token embeddings (the released code's space).
_base_ = './lmpt_tinyclip_synthetic.py'
model = dict(
    head_inputs=dict(captions=dict(type='CaptionTokensInput')),
    head=dict(token_shift=2))
