# Copyright (c) mmltml contributors. All rights reserved.
"""Refuse a checkpoint that does not fit the model it is loaded into.

mmengine loads checkpoints non-strictly (``tools/test.py``, ``load_from``,
``--resume``, ``mmengine.runner.load_checkpoint`` in mmpretrain's
inferencers): a missing key or a tensor of another shape only logs a
warning and leaves those weights at their initial values, so a checkpoint
of another class count or another CLIP model is tested with its prompts at
their initial values and reports a plausible but meaningless mAP.

:func:`check_checkpoint_fits` is the one check, used by
:class:`~mmltml.engine.hooks.CheckpointFitHook` (every checkpoint a Runner
loads: ``tools/test.py``, ``load_from``, ``--resume``) and by
:func:`load_checked_checkpoint` (:class:`~mmltml.apis.MultiLabelInferencer`,
``tools/misc/predict.py``). It compares the checkpoint's ``state_dict``
with what a checkpoint of the model holds (``model.state_dict()``, its
trained weights and buffers), after the model's own load pre-hooks (which
may rename the keys of older checkpoints), and refuses, before anything is
loaded:

- a missing key (``num_batches_tracked`` excepted, as in mmengine); frozen
  CLIP towers that checkpoints leave out (they are rebuilt when the model
  is built, :mod:`mmltml.models.utils.frozen_state`) are not required;
- an unexpected key (one that no parameter or buffer of the model has);
- a tensor whose shape differs from the model's;
- a NaN or infinite value;
- a checkpoint trained on top of another frozen CLIP (``clip_model_name``,
  ``clip_model_cfg`` or ``clip_pretrained`` of the config stored in the
  checkpoint's ``meta['cfg']``; weights files compared by name): its
  prompts may have the right shape and still mean nothing for this
  config's CLIP.

The error names each key, both shapes and the likely cause (class count,
CLIP model).
"""
import ast
import os.path as osp
import re
from collections import Counter
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import torch
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)

#: Config keys (anywhere under ``model``) that name the frozen CLIP.
FROZEN_IDENTITY_KEYS = ('clip_model_name', 'clip_model_cfg',
                        'clip_pretrained')
#: Keys listed per problem before ``... and N more``.
MAX_LISTED = 8


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


class CheckpointFit(NamedTuple):
    """How a checkpoint's ``state_dict`` differs from a model's."""
    missing: List[str]  #: keys the model saves that the checkpoint lacks
    unexpected: List[str]  #: checkpoint keys the model does not have
    #: ``(key, checkpoint shape, model shape)``
    mismatched: List[Tuple[str, tuple, tuple]]
    non_finite: List[str]  #: checkpoint tensors with NaN or inf values

    def __bool__(self) -> bool:
        return any(map(len, self))


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DDP-style and test-time-augmentation wrappers (the
    module mmengine loads a checkpoint into)."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def checkpoint_state_dict(checkpoint: dict) -> Dict[str, Any]:
    """The weights of a checkpoint, with the ``module.`` prefix of
    DDP-wrapped models removed (mmengine's default ``revise_keys``)."""
    state = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', key): value
            for key, value in state.items()}


def as_received(model: torch.nn.Module,
                state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """The entries the modules of ``model`` receive when ``state_dict`` is
    loaded: a copy passed through every module's load pre-hooks, in the
    order of a load (a module before its children). Such hooks rename the
    keys of older checkpoints and fill in frozen weights that checkpoints
    leave out (:mod:`mmltml.models.utils.frozen_state`); they run again
    when the checkpoint is loaded, so they must not mind running twice.
    """
    state = dict(state_dict)
    for name, module in model.named_modules():
        prefix = f'{name}.' if name else ''
        # torch keeps them here and calls them so in _load_from_state_dict
        for hook in module._load_state_dict_pre_hooks.values():
            hook(state, prefix, {}, True, [], [], [])
    return state


def compare_state_dict(model: torch.nn.Module,
                       state_dict: Dict[str, Any]) -> CheckpointFit:
    """Compare a checkpoint's ``state_dict`` with ``model`` (see the
    module docstring for what counts)."""
    model = unwrapped(model)
    received = as_received(model, state_dict)
    saved = model.state_dict()
    loadable = {**dict(model.named_parameters(remove_duplicate=False)),
                **dict(model.named_buffers(remove_duplicate=False)),
                **saved}
    missing = [key for key in saved if key not in received
               and not key.endswith('num_batches_tracked')]
    unexpected = [key for key in received if key not in loadable]
    mismatched = [(key, tuple(value.shape), tuple(loadable[key].shape))
                  for key, value in received.items()
                  if isinstance(value, torch.Tensor) and key in loadable
                  and value.shape != loadable[key].shape]
    non_finite = [key for key, value in state_dict.items()
                  if isinstance(value, torch.Tensor)
                  and value.is_floating_point()
                  and not torch.isfinite(value).all()]
    return CheckpointFit(missing, unexpected, mismatched, non_finite)


# ---------------------------------------------------------------------------
# The config stored in a checkpoint, read without executing it
# ---------------------------------------------------------------------------
class _NotLiteral(Exception):
    pass


def _literal(node: ast.AST) -> Any:
    """The value of a literal expression, ``dict(...)`` calls included."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords
                if kw.arg is not None}
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v)
                for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(elt) for elt in node.elts]
    try:
        return ast.literal_eval(node)
    except ValueError as error:
        raise _NotLiteral from error


def stored_model_cfg(checkpoint: dict) -> Optional[dict]:
    """The ``model`` section of the config a checkpoint was trained with
    (``meta['cfg']``, mmengine's ``pretty_text``), parsed as literals only
    (a checkpoint's config is never executed); None if absent."""
    text = (checkpoint.get('meta') or {}).get('cfg')
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and \
                node.targets[0].id == 'model':
            try:
                value = _literal(node.value)
            except _NotLiteral:
                return None
            return value if isinstance(value, dict) else None
    return None


def _inner_model_cfg(model_cfg: Any) -> Any:
    """The model config inside test-time-augmentation wrappers."""
    while isinstance(model_cfg, dict) and isinstance(
            model_cfg.get('module'), dict):
        model_cfg = model_cfg['module']
    return model_cfg


def _leaves(node: Any, path: str = 'model') -> Dict[str, Any]:
    """``{dotted key: value}`` of the leaves of a model config."""
    if isinstance(node, dict):
        found = {}
        for key, value in node.items():
            found.update(_leaves(value, f'{path}.{key}'))
        return found
    if isinstance(node, (list, tuple)):
        found = {}
        for idx, value in enumerate(node):
            found.update(_leaves(value, f'{path}[{idx}]'))
        return found or {path: []}
    return {path: node}


def _to_plain(value: Any) -> Any:
    """Config values as plain dicts / lists."""
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _is_file(value: Any) -> bool:
    return isinstance(value, str) and (
        '/' in value or '\\' in value or
        osp.splitext(value)[1] in ('.pt', '.pth', '.bin', '.safetensors',
                                   '.txt', '.json'))


def is_frozen_identity(key: str) -> bool:
    """Whether a dotted model-config key names the frozen CLIP."""
    parts = re.split(r'[.\[]', key)
    return any(part in FROZEN_IDENTITY_KEYS for part in parts)


def model_cfg_differences(checkpoint: dict, cfg: Any
                          ) -> List[Tuple[str, Any, Any]]:
    """``(config key, checkpoint's value, this config's value)`` of the
    model-config leaves that differ between the config stored in the
    checkpoint and ``cfg`` (keys present in both). Files are compared by
    name (the same file may live elsewhere on another machine); a weights
    tag (``'openai'``) and a local weights file are taken as the same (an
    offline machine may hold a copy of the tagged weights)."""
    stored = stored_model_cfg(checkpoint)
    if stored is None or cfg is None or cfg.get('model') is None:
        return []
    ours = _leaves(_inner_model_cfg(_to_plain(cfg['model'])))
    theirs = _leaves(_inner_model_cfg(stored))
    differences = []
    for key in sorted(ours.keys() & theirs.keys()):
        a, b = theirs[key], ours[key]
        if _is_file(a) and _is_file(b):
            same = osp.basename(a) == osp.basename(b)
        elif key.endswith('clip_pretrained') and (_is_file(a) or _is_file(b)):
            same = True  # a tag and a local file: maybe the same weights
        else:
            same = a == b
        if not same:
            differences.append((key, a, b))
    return differences


# ---------------------------------------------------------------------------
# Likely causes and the message
# ---------------------------------------------------------------------------
def _model_class_count(model: torch.nn.Module) -> Optional[Tuple[int, str]]:
    """The class count the model's modules declare (the most common one)
    and where it comes from."""
    from .hooks.class_count_check_hook import ClassCountCheckHook
    sources = [(where, field.num_classes) for where, field in
               ClassCountCheckHook.model_fields(unwrapped(model))]
    if not sources:
        return None
    count, _ = Counter(n for _, n in sources).most_common(1)[0]
    where = next(name for name, n in sources if n == count)
    return count, where


def _checkpoint_class_count(checkpoint: dict) -> Optional[Tuple[int, str]]:
    """The class count recorded in a checkpoint's ``meta``."""
    meta = checkpoint.get('meta') or {}
    stats = meta.get('class_stats') or {}
    if isinstance(stats.get('num_classes'), int):
        return stats['num_classes'], "meta['class_stats']"
    classes = (meta.get('dataset_meta') or {}).get('classes')
    if classes is not None:
        return len(classes), "meta['dataset_meta']['classes']"
    return None


def likely_causes(model: torch.nn.Module, checkpoint: dict, fit: CheckpointFit,
                  differences: List[Tuple[str, Any, Any]]) -> List[str]:
    """Human-readable causes: the class count, the CLIP model, else the
    other model-config keys that differ."""
    causes = []
    ours = _model_class_count(model)
    theirs = _checkpoint_class_count(checkpoint)
    if ours and theirs and ours[0] != theirs[0]:
        causes.append(f'another class count: the checkpoint was trained on '
                      f'{theirs[0]} classes ({theirs[1]}), this config has '
                      f'{ours[0]} ({ours[1]})')
    elif ours and not theirs:
        dims = {(a[i], b[i]) for _, a, b in fit.mismatched
                if len(a) == len(b) for i in range(len(a)) if a[i] != b[i]}
        if dims and all(b == ours[0] for _, b in dims):
            counts = sorted({a for a, _ in dims})
            causes.append(f'another class count: the checkpoint has '
                          f'{", ".join(map(str, counts))} where this config '
                          f'has {ours[0]} classes ({ours[1]})')
    frozen = [d for d in differences if is_frozen_identity(d[0])]
    causes += [f'another CLIP model: the checkpoint was trained with '
               f'{key}={a!r}, this config has {b!r}' for key, a, b in frozen]
    if not causes and differences:
        causes += [f'the checkpoint was trained with {key}={a!r}, this '
                   f'config has {b!r}'
                   for key, a, b in differences[:MAX_LISTED]]
    return causes


def _listed(keys: List[str]) -> str:
    shown = ', '.join(keys[:MAX_LISTED])
    more = len(keys) - MAX_LISTED
    return shown + (f' ... and {more} more' if more > 0 else '')


def _shape(shape: tuple) -> str:
    return '[' + ', '.join(map(str, shape)) + ']'


def describe_mismatch(filename: str, fit: CheckpointFit,
                      causes: List[str]) -> str:
    """The error message of a checkpoint that does not fit."""
    lines = [f'Checkpoint {filename} does not fit the model of this config '
             '(nothing was loaded):']
    for key, theirs, ours in fit.mismatched[:MAX_LISTED]:
        lines.append(f'  shape of {key}: checkpoint {_shape(theirs)}, model '
                     f'{_shape(ours)}')
    if len(fit.mismatched) > MAX_LISTED:
        lines.append(f'  ... and {len(fit.mismatched) - MAX_LISTED} more '
                     'tensors of another shape')
    if fit.missing:
        lines.append(f'  missing from the checkpoint ({len(fit.missing)}): '
                     f'{_listed(fit.missing)}')
    if fit.unexpected:
        lines.append(f'  not in the model ({len(fit.unexpected)}): '
                     f'{_listed(fit.unexpected)}')
    if fit.non_finite:
        lines.append(f'  NaN or inf values ({len(fit.non_finite)}): '
                     f'{_listed(fit.non_finite)}')
    lines += [f'  likely cause: {cause}' for cause in causes]
    lines.append(
        'Use the config the checkpoint was trained with (its text is in '
        "checkpoint['meta']['cfg']), or a checkpoint trained with this "
        'config. Frozen CLIP weights that checkpoints leave out are not '
        'required. To start training from the part of a checkpoint that '
        "fits, on purpose, use model.init_cfg=dict(type='Pretrained', "
        'checkpoint=...) instead.')
    return '\n'.join(lines)


def check_checkpoint_fits(model: torch.nn.Module,
                          checkpoint: dict,
                          filename: str,
                          cfg: Any = None) -> None:
    """Refuse a checkpoint that does not fit ``model`` (see the module
    docstring).

    Args:
        model: the model the checkpoint is about to be loaded into (model
            wrappers and TTA wrappers are looked through).
        checkpoint: the loaded checkpoint (a dict with ``state_dict`` and
            ``meta``, or a bare state dict).
        filename: the checkpoint's name, for the message.
        cfg: the config that built ``model``, to compare with the config
            the checkpoint was trained with (``meta['cfg']``): its frozen
            CLIP, and the likely cause of a misfit.

    Raises:
        CheckpointMismatchError: naming every key that does not fit, both
            shapes and the likely cause.
    """
    fit = compare_state_dict(model, checkpoint_state_dict(checkpoint))
    differences = model_cfg_differences(checkpoint, cfg)
    if not fit and not any(is_frozen_identity(d[0]) for d in differences):
        return
    causes = likely_causes(model, checkpoint, fit, differences)
    raise CheckpointMismatchError(describe_mismatch(filename, fit, causes))


def load_checked_checkpoint(model: torch.nn.Module,
                            filename: str,
                            cfg: Any = None,
                            map_location: str = 'cpu') -> dict:
    """mmengine's ``load_checkpoint`` after :func:`check_checkpoint_fits`.

    Returns:
        dict: The checkpoint.
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    check_checkpoint_fits(model, checkpoint, filename, cfg)
    _load_checkpoint_to_model(unwrapped(model), checkpoint)
    return checkpoint
