# Copyright (c) mmltml contributors. All rights reserved.
"""Silence mmcv-lite's advice to install the full mmcv.

With ``mmcv-lite`` (our default install, see ``setup.py``), importing
``mmcv.cnn`` warns "Fail to import ``MultiScaleDeformableAttention`` ... You
should install ``mmcv`` rather than ``mmcv-lite`` if you need this module".
Nothing in mmltml or the mmpretrain models it uses needs that compiled op,
so the advice contradicts ours. Only that warning is ignored, and only when
mmcv-lite (not the full mmcv) is the installed mmcv.
"""
import warnings
from importlib import metadata

_MESSAGE = r'Fail to import ``MultiScaleDeformableAttention``'
_MODULE = r'mmcv\.cnn\.bricks\.transformer'


def mmcv_lite_installed() -> bool:
    """Whether the installed mmcv distribution is ``mmcv-lite``."""
    for name, lite in (('mmcv', False), ('mmcv-lite', True)):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return lite
    return False


def silence_mmcv_lite_warning() -> None:
    """Ignore mmcv-lite's ``MultiScaleDeformableAttention`` warning (call it
    before ``mmcv.cnn`` is first imported)."""
    if mmcv_lite_installed():
        warnings.filterwarnings('ignore', message=_MESSAGE,
                                category=UserWarning, module=_MODULE)
