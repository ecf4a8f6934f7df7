# LMPT with the context initialised from "there is a" instead of
# "a photo of a" (class-specific, 3 tokens).
_base_ = './lmpt_tinyclip_synthetic.py'
model = dict(backbone=dict(prompt_learner=dict(ctx_init='there is a')))
