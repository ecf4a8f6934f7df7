# HP-DVAL stage 2 on NUS-WIDE-LT (this project's split of NUS-WIDE),
# `released` preset: the COCO-LT stage 2 of
# hpdval_clip-vitb16_released-stage2_coco-lt.py on the 81 concepts. The
# stage-1 student (and text tower) frozen, the global and local prompts (4
# class-shared tokens each, from "a photo of a") trained with L = DB +
# L_sc, L_sc anchoring the local prompt to "a photo of a {}." (the released
# code), plain DB (positive scale 1, as the released stage-2 runner) with
# the COCO-LT constants, lr 1e-5, the 80-epoch OneCycle stopped after
# epoch 50, EMA.
#
# Starts from stage 1's checkpoint (its EMA weights, with a fresh optimiser
# and schedule):
#   python tools/train.py <this config> \
#       --cfg-options load_from=<stage-1 work dir>/epoch_80.pth
# tools/train.py refuses to start it without `load_from` (previous_stage).
#
# Unlike COCO-LT, the test split's dual-view tokens are not cached: about
# 0.4 MB per image ([197, 512] fp32) for tens of thousands of test images
# is far beyond CachedFeatureDataset's memory limit, so test images are
# encoded at each evaluation (every 10 epochs and after the last).
_base_ = './hpdval_clip-vitb16_released-stage1_nus-wide-lt.py'
previous_stage = './hpdval_clip-vitb16_released-stage1_nus-wide-lt.py'

model = dict(
    # the frozen student and text tower come from stage 1: saved whole
    backbone=dict(frozen=True, save_frozen=True),
    head=dict(
        sc_weight=1.0,
        sc_target='local',
        text=dict(learned=True, trainable_text=False, save_frozen=True),
        loss=dict(
            logit_reg=dict(_delete_=True, neg_scale=2.0, init_bias=0.05))))
train_cfg = dict(max_epochs=50)
