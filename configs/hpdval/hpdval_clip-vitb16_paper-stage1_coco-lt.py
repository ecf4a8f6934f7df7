# HP-DVAL stage 1 on COCO-LT, `paper` preset (the paper's description with
# the released code's bugs fixed; ref-hpdval.md §3.3): L = DB* + L_kd with a
# separate frozen CLIP ViT-B/16 teacher, DB* with the paper's
# frequency-weighted positives (Eq. 14-15, n_i / max_j n_j), k = 32,
# local_weight = 0.4 (the paper's "alpha = 0.4" runs used the code's
# weighting), frozen text tower, batch 32, 20 epochs (OneCycle over them),
# CLIP's input normalisation. CLIP's own image tower is the student here;
# hpdval_vitb16-in1k_paper-stage1_coco-lt.py uses the paper's ImageNet ViT.
_base_ = './hpdval_clip-vitb16_released-stage1_coco-lt.py'

data_preprocessor = dict(mean=_base_.clip_mean, std=_base_.clip_std)
model = dict(
    head_inputs=dict(
        teacher=dict(
            type='FrozenCLIPTeacherInput',
            clip_model_name=_base_.clip_model_name,
            clip_pretrained=_base_.clip_pretrained)),
    head=dict(
        patch_topk=32,
        local_weight=0.4,
        kd_weight=1.0,
        text=dict(
            trainable_text=False,
            global_prompt=dict(ctx_init=None, init_std=0.02),
            local_prompt=dict(ctx_init=None, init_std=0.02)),
        loss=dict(logit_reg=dict(pos_scale='freq_ratio'))))

train_dataloader = dict(batch_size=32)
param_scheduler = [
    dict(_base_.param_scheduler[0], total_steps=20),
    dict(_base_.param_scheduler[1], T_max=2, end=2),
    dict(_base_.param_scheduler[2], T_max=18, begin=2, end=20),
]
train_cfg = dict(max_epochs=20, val_interval=5)
auto_scale_lr = dict(base_batch_size=32)
