# LT-GCN on VOC-LT with the DR loss (Lin et al., ECCV 2024; VOC-LT
# gamma1 = 5, gamma2 = 7) instead of LT-GCN's static DB-Focal. Everything
# else as lt-gcn_rn50_voc-lt.py.
_base_ = ['./lt-gcn_rn50_voc-lt.py', '../_base_/losses/dr_voc-lt.py']
model = dict(head=dict(loss=dict(_delete_=True, **_base_.dr_voc_lt_loss)))
