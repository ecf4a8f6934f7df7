# Copyright (c) mmltml contributors. All rights reserved.
"""Walking dataset configs, for tools that act on every dataset of a
config (``tools/misc/check_dataset.py``, ``benchmark_train.py``)."""
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
