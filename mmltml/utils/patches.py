# Copyright (c) mmltml contributors. All rights reserved.
"""The switches of what ``import mmltml`` changes outside mmltml.

Importing mmltml registers its components (new names only; no stock name
of mmengine or mmpretrain is replaced or shadowed) and applies the changes
named in :data:`PATCHES`, each described in ``docs/en/design.md`` ("What
``import mmltml`` changes"). Each one can be turned off before the import
with the environment variable ``MMLTML_NO_PATCH``: a comma-separated list
of names from :data:`PATCHES`, or ``all``. For example::

    MMLTML_NO_PATCH=inference_model,safe_globals python tools/train.py ...
"""
import os

#: The environment variable that turns changes off.
ENV_VAR = 'MMLTML_NO_PATCH'

#: Every change ``import mmltml`` can make outside mmltml, by switch name.
PATCHES = ('mmcv_lite_warning', 'transformers_guard', 'package_utils',
           'safe_globals', 'model_index', 'inference_model')


def disabled_patches() -> frozenset:
    """The names listed in ``MMLTML_NO_PATCH`` (``all``: every one).

    Raises:
        ValueError: for a name that is not in :data:`PATCHES`.
    """
    names = {n.strip() for n in os.environ.get(ENV_VAR, '').split(',')}
    names.discard('')
    if 'all' in names:
        return frozenset(PATCHES)
    unknown = sorted(names - set(PATCHES))
    if unknown:
        raise ValueError(f'{ENV_VAR}={os.environ[ENV_VAR]!r}: unknown '
                         f'{unknown}; the switches are {list(PATCHES)} '
                         "or 'all'")
    return frozenset(names)


def patch_enabled(name: str) -> bool:
    """Whether ``import mmltml`` applies the change ``name``."""
    if name not in PATCHES:
        raise KeyError(f'{name!r} is not one of {PATCHES}')
    return name not in disabled_patches()
