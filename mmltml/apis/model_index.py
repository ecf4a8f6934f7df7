# Copyright (c) mmltml contributors. All rights reserved.
"""mmltml's models in mmpretrain's model hub.

After ``import mmltml``, ``mmpretrain.list_models``, ``get_model``,
``inference_model`` and the inferencers know every model of
``model-index.yml`` by its config name (e.g. ``lmpt_tinyclip_synthetic``).
Our metafiles give the task as ``Multi-Label Classification`` (as
mmpretrain's own CSRA does), which mmpretrain 1.2.0's ``inference_model``
cannot map to an inferencer; :func:`inference_model` runs such models with
:class:`MultiLabelInferencer`.
"""
import os.path as osp
from inspect import signature
from typing import Optional

MULTI_LABEL_TASK = 'Multi-Label Classification'


def find_model_index() -> Optional[str]:
    """``model-index.yml`` of the checkout, or of the installed package.

    A source checkout has it at the repository root (used first: a
    ``mmltml/.mim`` left there by an earlier build may be stale); an
    installed mmltml ships it in ``mmltml/.mim`` with the configs (see
    ``setup.py``).
    """
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        path = osp.join(root, 'model-index.yml')
        if osp.isfile(path) and osp.isdir(osp.join(root, 'configs')):
            return path
    return None


def register_model_index() -> bool:
    """Register mmltml's model index into mmpretrain's ``ModelHub``.

    Config paths are resolved against the folder holding the index. Returns
    whether anything was registered (not twice, nor without an index).
    """
    from modelindex.load_model_index import load
    from mmpretrain.apis.model import ModelHub
    path = find_model_index()
    if path is None:
        return False
    names = [m.name.lower() for m in load(path).models]
    if any(ModelHub.has(name) for name in names):
        return False
    ModelHub.register_model_index(path, config_prefix=osp.dirname(path))
    return True


def _is_multi_label(model) -> bool:
    """Whether ``model`` (a name or a built model) is multi-label in the
    model hub."""
    from mmengine.model import BaseModel
    from mmpretrain.apis.model import ModelHub
    if isinstance(model, BaseModel):
        metainfo = getattr(model, '_metainfo', None)
    elif isinstance(model, str) and ModelHub.has(model.lower()):
        metainfo = ModelHub.get(model)
    else:
        return False
    results = getattr(metainfo, 'results', None) or []
    return any(result.task == MULTI_LABEL_TASK for result in results)


def inference_model(model, *args, **kwargs):
    """mmpretrain's ``inference_model``, also for multi-label models.

    A model whose metafile task is ``Multi-Label Classification`` runs with
    :class:`MultiLabelInferencer` (keyword arguments of its ``__init__`` go
    there, the rest to its call); any other model goes to mmpretrain's
    function unchanged.

    Returns:
        dict: the inferencer's result for the first input.
    """
    if not _is_multi_label(model):
        return _mmpretrain_inference_model()(model, *args, **kwargs)
    from .multi_label_inferencer import MultiLabelInferencer
    params = signature(MultiLabelInferencer).parameters
    init_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in params}
    return MultiLabelInferencer(model, **init_kwargs)(*args, **kwargs)[0]


#: mmpretrain's own ``inference_model``, once replaced.
_ORIGINAL: dict = {}


def _mmpretrain_inference_model():
    from mmpretrain.apis import model as model_module
    return _ORIGINAL.get('inference_model', model_module.inference_model)


def register_multi_label_task() -> None:
    """Make ``mmpretrain.inference_model`` run multi-label models.

    mmpretrain 1.2.0 maps tasks to inferencers in a dict local to its
    ``inference_model`` (``Multi-Label Classification`` is missing, and it
    fails with ``IndexError`` on such models, its own CSRA included), so
    the function itself is replaced by :func:`inference_model`, which hands
    every other model back to it.
    """
    import mmpretrain
    import mmpretrain.apis
    import mmpretrain.apis.model as model_module
    if _ORIGINAL:
        return
    _ORIGINAL['inference_model'] = model_module.inference_model
    for module in (model_module, mmpretrain.apis, mmpretrain):
        module.inference_model = inference_model
