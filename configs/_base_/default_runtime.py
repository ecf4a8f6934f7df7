# Runtime defaults for every mmltml config (a local copy of mmpretrain's
# ``_base_/default_runtime.py``: ``mmpretrain::`` base paths need
# pkg_resources, which current setuptools no longer ships).
custom_imports = dict(imports=['mmltml'], allow_failed_imports=False)
default_scope = 'mmpretrain'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the last checkpoint; no model selection on the test split.
    # mmltml's AtomicCheckpointHook: mmengine's CheckpointHook (same
    # arguments) with atomic writes, rotation after the write and the
    # work-dir run lock; type='CheckpointHook' would get mmengine's own.
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # mmpretrain's VisualizationHook that also draws when the model is fed
    # cached features (frozen-CLIP configs); `tools/test.py --show-dir`
    visualization=dict(type='FeatureVisualizationHook', enable=False),
    # mmltml: stop at a NaN / inf loss before it is checkpointed, and check
    # the class counts of datasets, model and metrics before a run starts.
    # Extra keys of default_hooks are merged into child configs (unlike
    # custom_hooks lists, which children replace).
    finite_loss=dict(type='FiniteLossHook'),
    class_count_check=dict(type='ClassCountCheckHook'),
    # mmltml: refuse a checkpoint (load_from, --resume, tools/test.py) whose
    # keys or shapes do not fit the model, instead of mmengine's non-strict
    # load that leaves those weights at their initial values.
    checkpoint_fit=dict(type='CheckpointFitHook'),
    # mmltml: the training class statistics go into every checkpoint, so a
    # checkpoint can be tested / used without the training list file.
    class_stats_checkpoint=dict(type='ClassStatsCheckpointHook'),
    # mmltml: keep every head's raw logits in the predictions
    # ('pred_logits'), which GroupMAP ranks by: fp32 sigmoid scores are
    # exactly 1.0 above a logit of ~16.6 and would tie.
    head_logits=dict(type='HeadLogitsHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; the tools switch to gloo on machines without CUDA
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
