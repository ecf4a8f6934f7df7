# The VSI block with the standard pre-norm residual connections
# (x + Attn(LN(x)), x + FFN(LN(x))), which the official code removed.
_base_ = './cprfl_r101_coco-lt.py'
model = dict(head=dict(residual=True))
