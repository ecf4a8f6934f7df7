# Copyright (c) mmltml contributors. All rights reserved.
"""mmltml: long-tailed multi-label recognition with vision-language models.

Importing the package registers every component into mmpretrain's
registries (configs use ``custom_imports=dict(imports=['mmltml'])`` and
``default_scope='mmpretrain'``) and applies the compatibility fixes of
:mod:`mmltml.utils.compat`.
"""
from .utils.compat import (guard_transformers_import, patch_package_utils,
                           register_checkpoint_safe_globals)

guard_transformers_import()  # must run before mmpretrain is imported

from . import apis, datasets, engine, evaluation, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

patch_package_utils()
register_checkpoint_safe_globals()

__all__ = [
    '__version__', 'apis', 'datasets', 'engine', 'evaluation', 'models'
]
