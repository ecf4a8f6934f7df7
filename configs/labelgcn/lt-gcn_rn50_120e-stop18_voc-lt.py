# LT-GCN on VOC-LT as the official log ran (ref-labelgcn.md §4.4, §7):
# the OneCycle schedule sized for 120 epochs (peak at epoch 24), training
# stopped after 18, still inside the warm-up. The published 88.98 is the
# best of the raw and EMA models over these 18 epochs on the test split;
# here the EMA model of the last epoch is reported.
_base_ = './lt-gcn_rn50_voc-lt.py'
param_scheduler = [
    dict(
        type='PerGroupOneCycleLR',
        eta_max=None,
        total_steps=120,
        pct_start=0.2,
        anneal_strategy='cos',
        div_factor=25.,
        final_div_factor=1e4,
        by_epoch=True,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingMomentum',
        eta_min=0.85,
        T_max=24,
        begin=0,
        end=24,
        by_epoch=True,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=18, val_interval=6)
