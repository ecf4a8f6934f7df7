# Copyright (c) mmltml contributors. All rights reserved.
"""Run in a fresh interpreter: print (JSON) what ``import mmltml`` changes.

mmengine, mmpretrain, torch and the third-party packages mmltml imports are
imported first, so that what changes afterwards is mmltml's doing. Then
this compares, before and after ``import mmltml``:

- the identity of every public attribute of every loaded ``mmengine``,
  ``mmpretrain``, ``mmcv`` and ``torch`` module (``replaced``: dotted
  names);
- torch's weights-only safe globals, ``warnings.filters`` and the models
  of mmpretrain's ``ModelHub`` (``replaced`` gets
  ``torch.serialization.get_safe_globals()``, ``warnings.filters``,
  ``mmpretrain.apis.ModelHub`` when they grew);
- every registry of mmpretrain and mmengine: names whose class changed
  (``registry_replaced``), names added to a child registry that its
  parent already had, i.e. that a config's ``type`` would now resolve
  differently (``registry_shadowed``), and the module of every added
  class (``registry_added_modules``).
"""
import json
import sys
import warnings

import mmengine.config.config  # noqa: F401
import mmengine.hub  # noqa: F401
import mmengine.registry as mmengine_registry
import mmengine.runner  # noqa: F401
import mmengine.utils.package_utils  # noqa: F401
import mmpretrain.apis.model  # noqa: F401
import mmpretrain.datasets  # noqa: F401
import mmpretrain.engine  # noqa: F401
import mmpretrain.evaluation  # noqa: F401
import mmpretrain.models  # noqa: F401
import mmpretrain.registry as mmpretrain_registry
import mmpretrain.structures  # noqa: F401
import mmpretrain.visualization  # noqa: F401
import open_clip  # noqa: F401
import sklearn.metrics  # noqa: F401
import timm  # noqa: F401
import torch.serialization
from mmengine.registry import Registry
from mmpretrain.apis.model import ModelHub

PACKAGES = ('mmengine', 'mmpretrain', 'mmcv', 'torch')


def public_attributes() -> dict:
    found = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split('.')[0] not in PACKAGES:
            continue
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        found[name] = {k: id(v) for k, v in items if not k.startswith('_')}
    return found


def registries() -> dict:
    found = {}
    for module in (mmpretrain_registry, mmengine_registry):
        for name, value in vars(module).items():
            if isinstance(value, Registry):
                found[f'{module.__name__}.{name}'] = value
    return found


def main() -> None:
    attrs = public_attributes()
    regs = registries()
    entries = {key: dict(reg.module_dict) for key, reg in regs.items()}
    safe = len(torch.serialization.get_safe_globals())
    filters = list(warnings.filters)
    hub = set(ModelHub._models_dict)

    import mmltml  # noqa: F401

    replaced = set()
    for module_name, before in attrs.items():
        now = vars(sys.modules[module_name])
        replaced |= {f'{module_name}.{k}' for k, i in before.items()
                     if k in now and id(now[k]) != i}
    if len(torch.serialization.get_safe_globals()) > safe:
        replaced.add('torch.serialization.get_safe_globals()')
    if [f for f in warnings.filters if f not in filters]:
        replaced.add('warnings.filters')
    if set(ModelHub._models_dict) - hub:
        replaced.add('mmpretrain.apis.ModelHub')

    registry_replaced, registry_shadowed, added_modules = [], [], set()
    for key, reg in regs.items():
        for name, cls in reg.module_dict.items():
            old = entries[key].get(name)
            if old is not None and old is not cls:
                registry_replaced.append(f'{key}: {name}')
            if old is not None:
                continue
            added_modules.add(cls.__module__)
            parent = reg.parent
            while parent is not None:
                if name in parent.module_dict:
                    registry_shadowed.append(
                        f'{key}: {name} (was {parent.name}\'s)')
                parent = parent.parent
    print(json.dumps(dict(
        replaced=sorted(replaced),
        registry_replaced=registry_replaced,
        registry_shadowed=registry_shadowed,
        registry_added_modules=sorted(added_modules))))


if __name__ == '__main__':
    main()
