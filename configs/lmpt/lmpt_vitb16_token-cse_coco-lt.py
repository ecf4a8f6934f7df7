# LMPT with the CSE loss on token embeddings, as in the released code:
# caption token embeddings against the prompt sequence shifted by 2.
_base_ = './lmpt_vitb16_coco-lt.py'
# Delta sums the per-position distances over every position (no caption
# mask), of the first 75 characters of the caption line, as the code does.
model = dict(
    head_inputs=dict(captions=dict(type='CaptionTokensInput')),
    head=dict(
        token_shift=2,
        token_caption_mask=False,
        cse_loss=dict(position_reduction='sum')))
