# Copyright (c) mmltml contributors. All rights reserved.
"""mmltml: long-tailed multi-label recognition with vision-language models.

Importing the package registers every component into mmpretrain's
registries under new names (configs use ``custom_imports=dict(imports=
['mmltml'])`` and ``default_scope='mmpretrain'``; no stock name is
replaced) and applies the changes of :data:`mmltml.utils.patches.PATCHES`:
compatibility fixes (:mod:`mmltml.utils.compat`), the silenced mmcv-lite
advice (:mod:`mmltml.utils.mmcv_lite`), and mmltml's models in
mmpretrain's model hub (``mmpretrain.list_models``, ``get_model``,
``inference_model``). ``docs/en/design.md`` lists each change and why;
``MMLTML_NO_PATCH`` turns them off.
"""
from .utils.patches import patch_enabled

if patch_enabled('mmcv_lite_warning'):
    from .utils.mmcv_lite import silence_mmcv_lite_warning
    silence_mmcv_lite_warning()  # before mmcv.cnn is first imported

if patch_enabled('transformers_guard'):
    from .utils.compat import guard_transformers_import
    guard_transformers_import()  # must run before mmpretrain is imported

from . import (apis, datasets, engine, evaluation, models,  # noqa: E402,F401
               structures)
from .utils.compat import (patch_package_utils,  # noqa: E402
                           register_checkpoint_safe_globals)
from .version import __version__  # noqa: E402

if patch_enabled('package_utils'):
    patch_package_utils()
if patch_enabled('safe_globals'):
    register_checkpoint_safe_globals()
if patch_enabled('model_index'):
    apis.register_model_index()
if patch_enabled('inference_model'):
    apis.register_multi_label_task()

__all__ = [
    '__version__', 'apis', 'datasets', 'engine', 'evaluation', 'models',
    'structures'
]
