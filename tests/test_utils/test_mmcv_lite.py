# Copyright (c) mmltml contributors. All rights reserved.
"""mmcv-lite's "install mmcv" warning is ignored only with mmcv-lite, and
no other warning is."""
import subprocess
import sys
import warnings
from importlib import metadata

import pytest

from mmltml.utils import mmcv_lite

ADVICE = ('Fail to import ``MultiScaleDeformableAttention`` from '
          '``mmcv.ops.multi_scale_deform_attn``, You should install ``mmcv`` '
          'rather than ``mmcv-lite`` if you need this module. ')


def installed(*names):
    def version(name):
        if name in names:
            return '2.2.0'
        raise metadata.PackageNotFoundError(name)
    return version


def emitted(message, module='mmcv.cnn.bricks.transformer'):
    """The warnings that pass the filters when ``module`` warns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        mmcv_lite.silence_mmcv_lite_warning()
        warnings.warn_explicit(message, UserWarning, 'transformer.py', 33,
                               module=module)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize('dists,lite', [(('mmcv-lite', ), True),
                                        (('mmcv', ), False),
                                        (('mmcv', 'mmcv-lite'), False),
                                        ((), False)])
def test_only_the_advice_is_silenced_and_only_with_mmcv_lite(
        monkeypatch, dists, lite):
    monkeypatch.setattr(mmcv_lite.metadata, 'version', installed(*dists))
    assert mmcv_lite.mmcv_lite_installed() == lite
    assert emitted(ADVICE) == ([] if lite else [ADVICE])
    other = 'Fail to import something else'
    assert emitted(other) == [other]
    assert emitted(ADVICE, module='mmcv.other') == [ADVICE]


def test_importing_mmltml_then_mmcv_cnn_prints_no_advice():
    if not mmcv_lite.mmcv_lite_installed():
        pytest.skip('the full mmcv is installed: it gives no such advice')
    code = 'import mmltml, mmcv.cnn.bricks.transformer'
    result = subprocess.run([sys.executable, '-W', 'default', '-c', code],
                            capture_output=True, text=True, check=True)
    assert 'MultiScaleDeformableAttention' not in result.stderr
