# Copyright (c) mmltml contributors. All rights reserved.
"""A cached-feature training set without its FeatureCacheHook is refused
before training (its flips would be those of epoch 0 in every epoch)."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmltml.datasets import CachedFeatureDataset
from mmltml.engine.hooks import FeatureCacheHook
from mmltml.utils.dataset_cfg import check_feature_cache_hook

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LMPT = osp.join(REPO_ROOT, 'configs', 'synthetic',
                'lmpt_tinyclip_synthetic.py')


def test_shipped_cached_config_passes_and_a_child_that_drops_the_hook_fails():
    cfg = Config.fromfile(LMPT)
    assert cfg.train_dataloader.dataset.type == 'CachedFeatureDataset'
    check_feature_cache_hook(cfg)  # the base pairs them
    # a child config that sets its own custom_hooks replaces the base list
    cfg.custom_hooks = [dict(type='EMAHook')]
    with pytest.raises(ValueError, match=r"custom_hooks \(\['EMAHook'\]\) "
                       'has no FeatureCacheHook'):
        check_feature_cache_hook(cfg)


def test_class_types_and_plain_datasets():
    """Types given as classes (new-style configs) are recognised; plain
    training sets need no hook."""
    cfg = dict(train_dataloader=dict(dataset=dict(type=CachedFeatureDataset)),
               custom_hooks=[dict(type=FeatureCacheHook)])
    check_feature_cache_hook(cfg)
    with pytest.raises(ValueError, match='no FeatureCacheHook'):
        check_feature_cache_hook(dict(cfg, custom_hooks=[]))
    check_feature_cache_hook(dict(
        train_dataloader=dict(dataset=dict(type='LTMultiLabelDataset'))))
    check_feature_cache_hook(dict(test_dataloader=dict()))
