# LMPT Table 3, row "+ embedding loss": CSE with a constant margin and
# no class re-weighting (paper Eq. 3).
_base_ = './lmpt_vitb16_voc-lt.py'
model = dict(head=dict(cse_loss=dict(soft_margin=False, reweight=False)))
