# Copyright (c) mmltml contributors. All rights reserved.
"""mmltml: long-tailed multi-label recognition with vision-language models.

Importing the package registers every component into mmpretrain's
registries (configs use ``custom_imports=dict(imports=['mmltml'])`` and
``default_scope='mmpretrain'``) and applies the compatibility fixes of
:mod:`mmltml.utils.compat` (and silences mmcv-lite's advice to install
the full mmcv, see :mod:`mmltml.utils.mmcv_lite`), and makes mmltml's models
known to mmpretrain's model hub (``mmpretrain.list_models``, ``get_model``,
``inference_model``) by their config names.
"""
from .utils.mmcv_lite import silence_mmcv_lite_warning

silence_mmcv_lite_warning()  # before mmcv.cnn is first imported

from .utils.compat import (guard_transformers_import,  # noqa: E402
                           patch_package_utils,
                           register_checkpoint_safe_globals)

guard_transformers_import()  # must run before mmpretrain is imported

from . import (apis, datasets, engine, evaluation, models,  # noqa: E402,F401
               structures)
from .version import __version__  # noqa: E402

patch_package_utils()
register_checkpoint_safe_globals()
apis.register_model_index()
apis.register_multi_label_task()

__all__ = [
    '__version__', 'apis', 'datasets', 'engine', 'evaluation', 'models',
    'structures'
]
