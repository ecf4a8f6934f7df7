# Copyright (c) mmltml contributors. All rights reserved.
"""Keep a frozen, rebuilt-at-construction submodule out of checkpoints.

A frozen CLIP tower loaded from an open_clip tag or file is rebuilt
identically whenever the model is built, so saving it would only make every
checkpoint hundreds of MB larger. :func:`exclude_from_checkpoints` drops its
entries from ``state_dict()`` and ignores them as missing keys when a
checkpoint is loaded; every other key still loads strictly.
"""
from functools import partial

import torch.nn as nn


def exclude_from_checkpoints(module: nn.Module, name: str) -> None:
    """Leave ``module.<name>`` out of ``module``'s state dicts."""
    module.register_state_dict_post_hook(partial(_drop_keys, name=name))
    module.register_load_state_dict_post_hook(
        partial(_ignore_missing_keys, name=name))


def _drop_keys(module: nn.Module, state_dict: dict, prefix: str,
               local_metadata: dict, name: str) -> None:
    """State-dict post hook: remove the entries of ``module.<name>``."""
    for key in [k for k in state_dict if k.startswith(f'{prefix}{name}.')]:
        del state_dict[key]


def _ignore_missing_keys(module: nn.Module, incompatible_keys,
                         name: str) -> None:
    """Load post hook: ``module.<name>`` is not in checkpoints.

    Missing keys are named from the module that ``load_state_dict`` was
    called on, so they are matched on their suffix ``<name>.<param>``.
    """
    own = {f'{name}.{key}' for key in getattr(module, name).state_dict()}
    missing = incompatible_keys.missing_keys
    for key in [k for k in missing if _has_suffix(k, own, f'{name}.')]:
        missing.remove(key)


def _has_suffix(key: str, own: set, head: str) -> bool:
    """Whether ``key`` is ``<prefix.>suffix`` for a ``suffix`` in ``own``
    (each suffix starts with ``head``)."""
    start = key.find(head)
    while start >= 0:
        if (start == 0 or key[start - 1] == '.') and key[start:] in own:
            return True
        start = key.find(head, start + 1)
    return False
