# Copyright (c) mmltml contributors. All rights reserved.
"""Compatibility fixes: checkpoint trust model, transformers 5, no
pkg_resources, dataloader defaults."""
import os
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer

from mmltml.utils import compat
from mmltml.utils.launch import set_dataloader_defaults

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(autouse=True)
def _no_trust(monkeypatch):
    monkeypatch.setattr(compat, '_trusted_paths', set())
    monkeypatch.delenv('MMLTML_TRUSTED_CHECKPOINTS', raising=False)


def _full_checkpoint(path):
    """A file shaped like an mmengine checkpoint (pickled objects)."""
    torch.save(
        dict(state_dict=dict(w=torch.ones(2)),
             message_hub=dict(log=HistoryBuffer([1.0, 2.0], [1, 1]))), path)


def test_weights_load_safely_without_trust(tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save(dict(state_dict=dict(w=torch.arange(3.))), path)
    loaded = compat.load_local_checkpoint(path)
    torch.testing.assert_close(loaded['state_dict']['w'], torch.arange(3.))


def test_full_checkpoint_needs_trust(tmp_path):
    path = str(tmp_path / 'run' / 'epoch_1.pth')
    os.makedirs(osp.dirname(path))
    _full_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError,
                       match='MMLTML_TRUSTED_CHECKPOINTS'):
        compat.load_local_checkpoint(path)
    compat.trust_checkpoint(str(tmp_path / 'run'))  # a trusted work_dir
    loaded = compat.load_local_checkpoint(path)
    assert isinstance(loaded['message_hub']['log'], HistoryBuffer)


def test_trust_by_environment_and_not_by_prefix(tmp_path, monkeypatch):
    trusted, other = tmp_path / 'run', tmp_path / 'run2'
    for d in (trusted, other):
        d.mkdir()
        _full_checkpoint(str(d / 'c.pth'))
    monkeypatch.setenv('MMLTML_TRUSTED_CHECKPOINTS', str(trusted))
    assert 'message_hub' in compat.load_local_checkpoint(
        str(trusted / 'c.pth'))
    with pytest.raises(pickle.UnpicklingError):  # 'run2' is not below 'run'
        compat.load_local_checkpoint(str(other / 'c.pth'))


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'cut.pth')
    torch.save(dict(state_dict=dict(w=torch.randn(1000))), path)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='cut.pth.*corrupt or truncated'):
        compat.load_local_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        compat.load_local_checkpoint(str(tmp_path / 'missing.pth'))


def test_mmengine_uses_the_trust_model(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = str(tmp_path / 'full.pth')
    _full_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(path)
    compat.trust_checkpoint(path)
    assert 'state_dict' in CheckpointLoader.load_checkpoint(path)


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
