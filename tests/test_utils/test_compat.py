# Copyright (c) mmltml contributors. All rights reserved.
"""Compatibility fixes: weights-only checkpoint loading, transformers 5, no
pkg_resources, dataloader defaults."""
import io
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.optim.scheduler import OneCycleLR, OneCycleParamScheduler
from mmengine.runner.checkpoint import _load_checkpoint

from mmltml.utils import compat
from mmltml.utils.launch import set_dataloader_defaults

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _mmengine_checkpoint(path):
    """What mmengine's Runner writes besides tensors: a message hub with
    HistoryBuffers, numpy scalars in the meta and runtime info, the state of
    a OneCycle scheduler (the only one holding a function)."""
    hub = MessageHub(f'ckpt_{osp.basename(path)}')
    for loss in (2.0, 1.0):
        hub.update_scalar('train/loss', loss)
    hub.update_scalar('val/lt/mAP', np.float64(45.5))
    hub.update_info('best_score', np.float32(0.25))
    hub.update_info('flags', np.array([True, False]))
    weight = torch.nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    schedulers = [OneCycleLR(optimizer, eta_max=0.1, total_steps=10,
                             anneal_strategy=s) for s in ('cos', 'linear')]
    torch.save(
        dict(meta=dict(seed=np.int64(3), epoch=1,
                       dataset_meta=dict(classes=('a', 'b'))),
             state_dict=dict(w=weight.detach()),
             optimizer=optimizer.state_dict(),
             param_schedulers=[s.state_dict() for s in schedulers],
             message_hub=hub.state_dict()), path)


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    _mmengine_checkpoint(path)
    loaded = torch.load(path, weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == 1.5 and buffer.current() == 1.0
    assert loaded['meta']['seed'] == 3
    assert loaded['meta']['seed'].dtype == np.int64
    info = loaded['message_hub']['runtime_info']
    assert info['best_score'] == np.float32(0.25)
    np.testing.assert_array_equal(info['flags'], [True, False])
    schedulers = loaded['param_schedulers']
    assert schedulers[0]['anneal_func'] is OneCycleLR._annealing_cos
    assert schedulers[1]['anneal_func'] is OneCycleLR._annealing_linear
    # and through mmengine's own, unreplaced loader
    assert _load_checkpoint(path)['meta']['epoch'] == 1


def _pickled_globals(path):
    """``module.name`` of every GLOBAL opcode in a torch zip checkpoint."""
    import pickletools
    import zipfile
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist()
                                 if n.endswith('data.pkl')))
    return {arg.replace(' ', '.').replace('__builtin__.', 'builtins.')
            for op, arg, _ in pickletools.genops(data) if op.name == 'GLOBAL'}


def test_allowlist_covers_exactly_what_mmengine_writes(tmp_path):
    """The allowlist (under numpy 2 names) is the set of globals of a real
    mmengine checkpoint that torch does not allow by itself."""
    path = str(tmp_path / 'c.pth')
    _mmengine_checkpoint(path)
    torch_allowed = set(torch._weights_only_unpickler._get_allowed_globals())
    needed = _pickled_globals(path) - torch_allowed
    names = set()
    for entry in compat.checkpoint_safe_globals():
        if isinstance(entry, tuple):
            names.add(entry[1])
        elif not entry.__name__.endswith('DType'):
            names.add(f'{entry.__module__}.{entry.__qualname__}')
    names = {n for n in names if not n.startswith('numpy.core.')}
    assert needed == names


def test_numpy1_checkpoint_names_load(tmp_path):
    """numpy 1 pickles its scalars as ``numpy.core.multiarray.scalar``."""
    buf = io.BytesIO()
    torch.save(dict(seed=np.int64(7)), buf,
               _use_new_zipfile_serialization=False)
    old = buf.getvalue().replace(b'numpy._core.multiarray\n',
                                 b'numpy.core.multiarray\n')
    assert b'numpy.core.multiarray\n' in old
    assert torch.load(io.BytesIO(old), weights_only=True)['seed'] == 7


class _RunsCode:
    """A pickle whose loading would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


class _ReachesAttribute:
    """A pickle that reaches an attribute through the allowed ``getattr``."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return (getattr, (self.obj, self.name))


def test_code_running_pickle_refused(tmp_path):
    path, marker = str(tmp_path / 'evil.pth'), tmp_path / 'ran'
    torch.save(dict(state_dict=_RunsCode(marker)), path)
    for load in (torch.load, _load_checkpoint):
        with pytest.raises(pickle.UnpicklingError, match='system'):
            load(path)
    assert not marker.exists()


@pytest.mark.parametrize('obj,name', [(HistoryBuffer, '__init__'),
                                      (OneCycleParamScheduler, 'step'),
                                      (np.ndarray, 'tofile'),
                                      (HistoryBuffer.mean, '__globals__')])
def test_getattr_only_reaches_pickled_mmengine_methods(tmp_path, obj, name):
    path = str(tmp_path / 'attr.pth')
    torch.save(dict(x=_ReachesAttribute(obj, name)), path)
    with pytest.raises(pickle.UnpicklingError, match='Refusing getattr'):
        torch.load(path)


def test_dtypes_outside_the_allowlist_refused(tmp_path):
    """Object arrays are not something mmengine writes."""
    path = str(tmp_path / 'objects.pth')
    torch.save(dict(x=np.array([1, 'a'], dtype=object)), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_mmengine_loader_not_replaced():
    from mmengine.runner.checkpoint import CheckpointLoader
    assert CheckpointLoader._schemes[''].__module__ == \
        'mmengine.runner.checkpoint'


def _run_python(code, extra_path=''):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (extra_path, REPO_ROOT, env.get('PYTHONPATH', '')) if p)
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def transformers5_standin(tmp_path_factory):
    """A stand-in transformers 5 that lacks what mmpretrain 1.2 imports."""
    root = tmp_path_factory.mktemp('site')
    pkg = root / 'transformers'
    pkg.mkdir()
    (pkg / '__init__.py').write_text("__version__ = '5.0.0'\n")
    (pkg / 'modeling_utils.py').write_text(
        'class PreTrainedModel:\n    pass\n')
    (pkg / 'activations.py').write_text('ACT2FN = {}\n')
    dist = root / 'transformers-5.0.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: transformers\nVersion: 5.0.0\n')
    return str(root)


def test_plain_mmpretrain_breaks_with_transformers5(transformers5_standin):
    """The breakage the guard fixes is real, and it is this one error:
    mmpretrain's Hugging Face wrapper imports ``AutoConfig`` (absent from
    the stand-in, as from transformers 5's top level)."""
    proc = _run_python('import mmpretrain.models', transformers5_standin)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "ImportError: cannot import name 'AutoConfig' from 'transformers'"
    ), proc.stderr[-3000:]
    assert osp.join('mmpretrain', 'models', 'utils', 'huggingface.py') in \
        proc.stderr


def test_mmltml_imports_with_transformers5(transformers5_standin):
    proc = _run_python(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            import mmltml
        import transformers, mmpretrain.models
        from mmpretrain.registry import MODELS
        assert transformers.__version__ == '5.0.0'
        assert MODELS.get('MultiLabelLinearClsHead') is not None
        try:
            MODELS.build(dict(type='CLIPZeroShot'))
        except ImportError as e:
            assert 'multi-modal' in str(e)
        else:
            raise AssertionError('CLIPZeroShot should be a placeholder')
        assert any('placeholders' in str(w.message) for w in caught)
        print('OK')
        """, transformers5_standin)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'OK' in proc.stdout


def test_mmpretrain_scoped_base_without_pkg_resources(tmp_path):
    import importlib.util
    if importlib.util.find_spec('pkg_resources') is not None:
        pytest.skip('pkg_resources present: nothing to patch')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("_base_ = 'mmpretrain::_base_/default_runtime.py'\n")
    proc = _run_python(
        f"""
        import mmltml
        from mmengine.config import Config
        cfg = Config.fromfile({str(cfg)!r})
        print(cfg.default_scope)
        """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith('mmpretrain')


def test_dataloader_defaults_valid_without_workers():
    cfg = Config(dict(
        train_dataloader=dict(num_workers=0, persistent_workers=True),
        val_dataloader=dict(num_workers=2),
        test_dataloader=dict(num_workers=2, pin_memory=False)))
    set_dataloader_defaults(cfg)
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.get('persistent_workers', False) is False
    assert cfg.val_dataloader.pin_memory == torch.cuda.is_available()
    assert cfg.test_dataloader.pin_memory is False
    torch.utils.data.DataLoader(list(range(4)), **{
        k: v for k, v in cfg.train_dataloader.items() if k != 'collate_fn'})
