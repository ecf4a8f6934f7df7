# Copyright (c) mmltml contributors. All rights reserved.
"""Walking dataset configs, for tools that act on every dataset of a
config (``tools/misc/check_dataset.py``, ``benchmark_train.py``), and the
check that a cached-feature training set has its hook (``tools/train.py``,
before anything is built; every runner meets the same rule at the first
sample, enforced by :class:`~mmltml.datasets.CachedFeatureDataset`)."""
from typing import List


def leaf_dataset_cfgs(dataset_cfg: dict) -> List[dict]:
    """The dataset configs served by a (possibly wrapped) dataset config:
    through ``dataset`` (e.g. ``CachedFeatureDataset``) and ``datasets``
    (e.g. ``ConcatDataset``) keys. The returned dicts are the nodes of
    ``dataset_cfg`` itself, so editing them edits the config."""
    if isinstance(dataset_cfg.get('dataset'), dict):
        return leaf_dataset_cfgs(dataset_cfg['dataset'])
    if isinstance(dataset_cfg.get('datasets'), (list, tuple)):
        return [
            leaf for sub in dataset_cfg['datasets']
            for leaf in leaf_dataset_cfgs(sub)
        ]
    return [dataset_cfg]


def check_feature_cache_hook(cfg) -> None:
    """Refuse a config whose training set is a ``CachedFeatureDataset``
    without a ``FeatureCacheHook`` in ``custom_hooks``.

    The hook builds the cache and sets the dataset's epoch, from which its
    flips are drawn; without it every epoch would draw the flips of epoch 0
    (and no feature would be cached). A child config that sets
    ``custom_hooks`` replaces the list of its base, hook included, which is
    how it usually goes missing.

    Raises:
        ValueError: naming the missing hook and how to add it.
    """
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    if _type_name(dataset.get('type')) != 'CachedFeatureDataset':
        return
    hooks = [_type_name(hook.get('type'))
             for hook in cfg.get('custom_hooks') or []]
    if 'FeatureCacheHook' not in hooks:
        raise ValueError(
            'train_dataloader.dataset is a CachedFeatureDataset but '
            f'custom_hooks ({hooks}) has no FeatureCacheHook, which builds '
            'its cache and sets its epoch (without it every epoch draws the '
            "flips of epoch 0): add dict(type='FeatureCacheHook') to "
            'custom_hooks (a child config that sets custom_hooks replaces '
            "its base's list).")


def _type_name(type_: object) -> object:
    """A config ``type`` as a name (a string, or a class's name)."""
    return getattr(type_, '__name__', type_)
