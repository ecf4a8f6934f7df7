# Copyright (c) mmltml contributors. All rights reserved.
"""Keep a frozen, rebuilt-at-construction submodule out of checkpoints.

A frozen CLIP tower loaded from an open_clip tag or file is rebuilt
identically whenever the model is built, so saving it would only make every
checkpoint hundreds of MB larger. :func:`exclude_from_checkpoints` drops its
entries from ``state_dict()``; when a checkpoint is loaded, the entries it
lacks are filled with the module's own (rebuilt) weights under their exact
keys, so nothing is reported missing for it and every other key still loads
strictly.
"""
from functools import partial
from typing import Optional

import torch.nn as nn


def rebuilt_at_construction(clip_pretrained: Optional[str],
                            init_cfg: Optional[dict]) -> bool:
    """Whether a frozen CLIP tower comes back identically when the model is
    built again: loaded from ``clip_pretrained`` and not replaced by
    ``init_cfg`` weights (which a test-time build does not load)."""
    return clip_pretrained is not None and init_cfg is None


def exclude_from_checkpoints(module: nn.Module, name: str) -> None:
    """Leave ``module.<name>`` out of ``module``'s state dicts."""
    module.register_state_dict_post_hook(partial(_drop_keys, name=name))
    module.register_load_state_dict_pre_hook(
        partial(_fill_own_keys, name=name))


def _drop_keys(module: nn.Module, state_dict: dict, prefix: str,
               local_metadata: dict, name: str) -> None:
    """State-dict post hook: remove the entries of ``module.<name>``."""
    for key in [k for k in state_dict if k.startswith(f'{prefix}{name}.')]:
        del state_dict[key]


def _fill_own_keys(module: nn.Module, state_dict: dict, prefix: str, *args,
                   name: str) -> None:
    """Load pre-hook: entries of ``module.<name>`` that the checkpoint lacks
    keep the module's current values (exact keys of this module only)."""
    for key, value in getattr(module, name).state_dict().items():
        state_dict.setdefault(f'{prefix}{name}.{key}', value)
