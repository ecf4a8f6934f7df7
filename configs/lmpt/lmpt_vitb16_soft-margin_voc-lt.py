# LMPT Table 3, row "+ class-aware soft margin": mu_i = eta * n_i^(-1/4),
# no class re-weighting. (The last row, "+ re-weighting", is the full
# lmpt_vitb16_voc-lt.py.)
_base_ = './lmpt_vitb16_voc-lt.py'
model = dict(head=dict(cse_loss=dict(reweight=False)))
