# LMPT with the CSE loss on token embeddings (the released code's space).
_base_ = './lmpt_tinyclip_synthetic.py'
model = dict(head=dict(cse_space='token', token_shift=2))
