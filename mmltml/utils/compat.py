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
* :func:`register_checkpoint_safe_globals` - mmengine checkpoints hold
  pickled Python objects (``HistoryBuffer``, numpy scalars and arrays) and
  do not load under torch's ``weights_only=True`` default. We allowlist
  exactly those types for torch's weights-only unpickler.
* :func:`setup_cpu_distributed` - ``--launcher pytorch`` on a machine
  without CUDA (gloo backend, DDP without ``device_ids``).
"""
import contextlib
import importlib
import importlib.util
import os.path as osp
import sys
import warnings
from importlib import metadata
from typing import Optional

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
#: numpy dtypes whose scalars and arrays an mmengine checkpoint may hold
#: (numbers and booleans; no object, string, void or datetime dtypes).
_NUMPY_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                 'uint16', 'uint32', 'uint64', 'float16', 'float32',
                 'float64', 'complex64', 'complex128')


def _pickled_methods() -> dict:
    """Functions that mmengine objects hold as attributes, and so pickle by
    reference (``getattr(cls, name)``): a ``HistoryBuffer``'s statistics
    methods and a ``OneCycleParamScheduler``'s annealing function."""
    from mmengine.logging import HistoryBuffer
    from mmengine.optim.scheduler import OneCycleParamScheduler
    return {
        HistoryBuffer: ('min', 'max', 'current', 'mean'),
        OneCycleParamScheduler: ('_annealing_cos', '_annealing_linear'),
    }


def _mmengine_getattr(obj, name: str):
    """``getattr`` as mmengine checkpoints use it, and only so.

    Allows exactly the (class, function name) pairs of
    :func:`_pickled_methods`; any other ``getattr`` a checkpoint asks for
    (e.g. ``getattr(os, 'system')``) is refused, so allowing this name does
    not give a pickle access to arbitrary attributes.
    """
    import pickle
    allowed = _pickled_methods()
    if isinstance(obj, type) and name in allowed.get(obj, ()):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) in a checkpoint: only '
        + ', '.join(f'{cls.__name__}.{n}' for cls, names in allowed.items()
                    for n in names) + ' are allowed.')


def checkpoint_safe_globals() -> list:
    """The globals an mmengine / mmpretrain checkpoint pickles.

    Besides tensors and plain containers (which torch's weights-only
    unpickler always allows), mmengine writes: ``HistoryBuffer`` objects in
    the message hub (numpy arrays inside, statistics methods reached through
    ``getattr``), numpy scalars / arrays in the meta and runtime info, and
    the annealing function of a ``OneCycleParamScheduler``'s state (through
    ``getattr`` of its class). Calling an allowed class builds nothing
    harmful: a ``HistoryBuffer`` holds numbers, and a scheduler needs an
    optimizer, which no allowed global can make.
    Each numpy name is listed under its numpy 2 module and its numpy 1
    module (``numpy.core``), so checkpoints written under either load.
    """
    import numpy as np
    multiarray = np._core.multiarray if hasattr(np, '_core') \
        else np.core.multiarray
    allowed = list(_pickled_methods()) + [
        np.ndarray, np.dtype, (_mmengine_getattr, 'builtins.getattr')]
    for name in ('scalar', '_reconstruct'):
        function = getattr(multiarray, name)
        allowed += [(function, f'numpy._core.multiarray.{name}'),
                    (function, f'numpy.core.multiarray.{name}')]
    # ``numpy.dtype(...)`` returns an instance of a per-dtype class that
    # the unpickler must be allowed to ``BUILD``.
    allowed += sorted({type(np.dtype(d)) for d in _NUMPY_DTYPES}, key=str)
    return allowed


def register_checkpoint_safe_globals() -> None:
    """Let torch's weights-only unpickler load mmengine checkpoints.

    Adds :func:`checkpoint_safe_globals` to
    ``torch.serialization.add_safe_globals``. Every loader that uses
    ``torch.load`` with its ``weights_only=True`` default (mmengine's
    ``CheckpointLoader``, mmpretrain's ``get_model`` and inferencers, the
    stock tools) then loads training-state checkpoints, while a pickle that
    needs any other global (e.g. one whose ``__reduce__`` calls
    ``os.system``) is still refused. mmengine's checkpoint loader itself is
    not replaced.
    """
    import torch
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


@contextlib.contextmanager
def explain_refused_checkpoint(filename: Optional[str]):
    """Re-raise a weights-only refusal of ``filename`` with a clear message.

    Used by our tools around the runner call that loads ``filename``; the
    refusal itself comes from torch's unpickler.
    """
    import pickle
    try:
        yield
    except pickle.UnpicklingError as error:
        if 'Weights only load failed' not in str(error):
            raise
        raise pickle.UnpicklingError(
            f'Checkpoint {filename} was not loaded: it holds Python objects '
            'outside the types mmengine checkpoints contain (mmltml.utils.'
            'compat.checkpoint_safe_globals), and unpickling them could run '
            'arbitrary code. If you created the file or trust its source, '
            'load it with torch.load(weights_only=False) and save its '
            'state_dict.') from error


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
