# Copyright (c) mmltml contributors. All rights reserved.
"""Fixes for the OpenMMLab stack on current torch / Python packaging.

Each function here repairs one known breakage
(see ``docs/en/compatibility.md``)
narrowly, without touching the user's installed packages:

* :func:`guard_transformers_import` - mmpretrain 1.2.0 cannot be imported
  when ``transformers`` 5.x is installed. Its multi-modal models are then
  registered as placeholders, exactly as when transformers is absent.
* :func:`patch_package_utils` - mmengine 0.10.7 needs ``pkg_resources``
  (removed from setuptools >= 82) for ``mmpretrain::`` config paths.
* :func:`register_checkpoint_loader` - mmengine checkpoints hold pickled
  Python objects and do not load under torch's ``weights_only=True`` default.
  We keep safe loading for every file and allow full unpickling only for
  paths the user named as trusted (see :func:`trust_checkpoint`).
* :func:`setup_cpu_distributed` - ``--launcher pytorch`` on a machine
  without CUDA (gloo backend, DDP without ``device_ids``).
"""
import importlib
import importlib.util
import os
import os.path as osp
import sys
import warnings
from importlib import metadata
from typing import Optional, Set

_TRUSTED_ENV = 'MMLTML_TRUSTED_CHECKPOINTS'
_trusted_paths: Set[str] = set()

# ---------------------------------------------------------------------------
# transformers 5.x
# ---------------------------------------------------------------------------
_BLIP_NEEDS = ('apply_chunking_to_forward', 'find_pruneable_heads_and_indices',
               'prune_linear_layer')


def _transformers_breaks_mmpretrain() -> bool:
    """Whether the installed transformers lacks what mmpretrain 1.2 imports."""
    try:
        version = metadata.version('transformers')
    except metadata.PackageNotFoundError:
        return False
    if int(version.split('.')[0]) < 5:
        return False
    try:
        modeling_utils = importlib.import_module('transformers.modeling_utils')
    except Exception:  # a broken transformers install breaks mmpretrain too
        return True
    return not all(hasattr(modeling_utils, name) for name in _BLIP_NEEDS)


def guard_transformers_import() -> bool:
    """Let mmpretrain import when transformers 5.x is installed.

    mmpretrain enables its multi-modal models when ``transformers>=4.28`` is
    installed, but its BLIP module imports names that transformers 5 removed,
    and mmpretrain then fails at import time with
    ``TypeError: NoneType takes no arguments``. When (and only when) the
    installed transformers lacks those names, we pre-load
    ``mmpretrain.utils.dependency`` with ``WITH_MULTIMODAL = False`` so that
    mmpretrain registers its multi-modal models as placeholders, the same
    fallback it uses without transformers. The user's transformers stays
    installed and importable.

    Must run before ``mmpretrain`` is first imported. Returns whether the
    fallback was applied.
    """
    name = 'mmpretrain.utils.dependency'
    if name in sys.modules or 'mmpretrain' in sys.modules:
        return False
    if not _transformers_breaks_mmpretrain():
        return False
    spec = importlib.util.find_spec('mmpretrain')
    if spec is None or spec.origin is None:
        return False
    path = osp.join(osp.dirname(spec.origin), 'utils', 'dependency.py')
    dep_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(dep_spec)
    sys.modules[name] = module
    dep_spec.loader.exec_module(module)
    module.WITH_MULTIMODAL = False
    warnings.warn(
        'mmltml: the installed transformers lacks names that mmpretrain '
        '1.2.0 multi-modal models import; those models are registered as '
        'placeholders (everything else, including mmltml, works).')
    return True


# ---------------------------------------------------------------------------
# pkg_resources
# ---------------------------------------------------------------------------
def _is_installed(package: str) -> bool:
    try:
        metadata.distribution(package)
        return True
    except metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _package_to_module(package: str) -> str:
    try:
        top_level = metadata.distribution(package).read_text('top_level.txt')
    except metadata.PackageNotFoundError:
        top_level = None
    if top_level:
        return top_level.split()[0]
    return package.replace('-', '_')


def _get_installed_path(package: str) -> str:
    for module in (package, _package_to_module(package)):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None:
            return osp.dirname(spec.origin)
    raise metadata.PackageNotFoundError(package)


def patch_package_utils() -> bool:
    """Replace mmengine's pkg_resources-based helpers when it is missing.

    Only acts when ``pkg_resources`` cannot be imported; the replacements use
    :mod:`importlib.metadata` (as mmengine 0.11 does upstream).
    """
    if importlib.util.find_spec('pkg_resources') is not None:
        return False
    import mmengine.config.config as config_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils
    for module in (package_utils, utils_module, config_module):
        module.is_installed = _is_installed
        module.get_installed_path = _get_installed_path
    hub = sys.modules.get('mmengine.hub.hub')
    if hub is not None:
        hub.get_installed_path = _get_installed_path
    return True


# ---------------------------------------------------------------------------
# Checkpoint loading under torch's weights_only default
# ---------------------------------------------------------------------------
def _canonical(path: str) -> str:
    return osp.realpath(osp.expanduser(path))


def trust_checkpoint(path: Optional[str]) -> None:
    """Allow full (pickle) loading of ``path``, or of every file below it.

    A full training-state checkpoint (optimizer, message hub, numpy
    metadata) cannot be loaded with ``weights_only=True``; unpickling runs
    arbitrary code, so only files the user named are trusted. Our tools
    trust the checkpoint given to ``tools/test.py``, ``--resume PATH``,
    ``load_from`` and, for ``--resume`` without a path, the run's own
    ``work_dir``. Others can be trusted with the environment variable
    ``MMLTML_TRUSTED_CHECKPOINTS`` (paths separated by ``os.pathsep``).
    """
    if path:
        _trusted_paths.add(_canonical(path))


def _is_trusted(path: str) -> bool:
    env = [p for p in os.environ.get(_TRUSTED_ENV, '').split(os.pathsep) if p]
    trusted = _trusted_paths | {_canonical(p) for p in env}
    path = _canonical(path)
    return any(path == t or path.startswith(t.rstrip(os.sep) + os.sep)
               for t in trusted)


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint safely, or fully if the path is trusted.

    Plain weight files (state dicts of tensors, pretrained or downloaded)
    load with ``weights_only=True``. A file that needs full unpickling loads
    only if trusted; otherwise the error says how to trust it. A truncated
    or corrupt file raises an error naming it.
    """
    import pickle

    import torch
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as safe_error:
        if 'Weights only load failed' not in str(safe_error):
            raise RuntimeError(
                f'Checkpoint {filename} is corrupt or truncated: '
                f'{safe_error}') from safe_error
        if not _is_trusted(filename):
            raise pickle.UnpicklingError(
                f'{filename} is a full training-state checkpoint that '
                'torch can only load by unpickling arbitrary objects. mmltml '
                'does this only for paths you name: pass it to '
                'tools/test.py, --resume or MultiLabelInferencer(pretrained='
                '...), set load_from, or add it to '
                f'${_TRUSTED_ENV}. Only trust files you created or '
                'obtained from a source you trust.') from safe_error
    except (RuntimeError, EOFError, OSError) as error:
        raise RuntimeError(
            f'Checkpoint {filename} is corrupt or truncated: {error}'
        ) from error
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise RuntimeError(
            f'Checkpoint {filename} is corrupt or truncated: {error}'
        ) from error


def register_checkpoint_loader() -> None:
    """Route mmengine's local checkpoint loading through our loader."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', force=True)(load_local_checkpoint)


# ---------------------------------------------------------------------------
# Distributed runs on CPU-only machines
# ---------------------------------------------------------------------------
def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Make ``--launcher pytorch`` work on a machine without CUDA.

    mmengine calls ``torch.cuda.set_device`` in ``init_dist`` and wraps the
    model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without CUDA.
    We initialise a gloo process group first (mmengine then skips
    ``init_dist``) and set ``device_ids=None``. GPU runs are untouched.
    """
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True
