# Copyright (c) mmltml contributors. All rights reserved.
"""The CLIP loader: QuickGELU decided from open_clip's pretrained registry or
the weights file, and a fast, explicit failure when weights cannot be
downloaded. No weights are downloaded (tiny models only)."""
import socket

import open_clip
import pytest
import torch
import torch.nn as nn

from mmltml.models.utils import clip_loader
from mmltml.models.utils.clip_loader import (OPENAI_JIT_KEYS,
                                             build_open_clip,
                                             cached_pretrained_file,
                                             check_quick_gelu,
                                             weights_quick_gelu)

TINY = dict(
    embed_dim=16,
    vision_cfg=dict(layers=1, width=32, head_width=16, patch_size=8,
                    image_size=32),
    text_cfg=dict(context_length=8, vocab_size=100, width=16, heads=2,
                  layers=1))
OPENAI_NAMES = sorted(
    {name for name, tag in open_clip.list_pretrained() if tag == 'openai'})


@pytest.mark.parametrize('name', OPENAI_NAMES)
def test_every_openai_model_needs_the_quickgelu_network(name):
    """OpenAI trained all its CLIPs with QuickGELU; open_clip builds the
    plain names with GELU."""
    base = name.replace('-quickgelu', '')
    with pytest.raises(ValueError, match=f"'{base}-quickgelu'"):
        check_quick_gelu(base, 'openai')
    check_quick_gelu(f'{base}-quickgelu', 'openai')


def test_gelu_weights_are_refused_in_a_quickgelu_network():
    check_quick_gelu('ViT-B-16', 'laion2b_s34b_b88k')
    with pytest.raises(ValueError, match="clip_model_name='ViT-B-16'"):
        check_quick_gelu('ViT-B-16-quickgelu', 'laion2b_s34b_b88k')


def test_quickgelu_tags_of_plain_names_follow_the_registry():
    """LAION-400M ViT-B-32 weights were trained with QuickGELU too: the
    decision reads the registry, not a list of OpenAI models."""
    assert weights_quick_gelu('ViT-B-32', 'laion400m_e31') is True
    with pytest.raises(ValueError, match='ViT-B-32-quickgelu'):
        check_quick_gelu('ViT-B-32', 'laion400m_e31')


def test_openai_torchscript_archive_needs_quickgelu(tmp_path):
    path = str(tmp_path / 'ViT-B-16.pt')
    torch.jit.script(nn.Linear(2, 2)).save(path)
    assert weights_quick_gelu(None, path) is True
    with pytest.raises(ValueError, match='quick_gelu=True'):
        check_quick_gelu(model_cfg=TINY, pretrained=path)
    check_quick_gelu(model_cfg=dict(TINY, quick_gelu=True), pretrained=path)


def test_openai_state_dict_layout_loads_into_a_quickgelu_tiny_clip(tmp_path):
    torch.manual_seed(0)
    cfg = dict(TINY, quick_gelu=True)
    state = open_clip.CLIP(**cfg).state_dict()
    state.update({k: torch.tensor(1) for k in OPENAI_JIT_KEYS})
    path = str(tmp_path / 'openai_layout.pth')
    torch.save(state, path)
    assert weights_quick_gelu(None, path) is True
    with pytest.raises(ValueError, match='quick_gelu=True'):
        build_open_clip(model_cfg=TINY, pretrained=path)
    model = build_open_clip(model_cfg=cfg, pretrained=path)
    torch.testing.assert_close(model.logit_scale, state['logit_scale'])


def test_other_files_cannot_be_told(tmp_path):
    path = str(tmp_path / 'open_clip.pth')
    torch.save(open_clip.CLIP(**TINY).state_dict(), path)
    assert weights_quick_gelu(None, path) is None
    build_open_clip(model_cfg=TINY, pretrained=path)


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    monkeypatch.setattr(clip_loader, '_hub_cache_dir',
                        lambda: str(tmp_path / 'hub'))
    monkeypatch.setattr(clip_loader, '_url_cache_dir',
                        lambda: str(tmp_path / 'clip'))
    return tmp_path


def test_no_network_fails_with_the_local_file_alternative(empty_caches,
                                                          monkeypatch):
    tried = []

    def unreachable(address, *args, **kwargs):
        tried.append(address)
        raise OSError('Name or service not known')

    monkeypatch.setattr(socket, 'create_connection', unreachable)
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    with pytest.raises(RuntimeError) as error:
        build_open_clip('RN50-quickgelu', 'openai')
    message = str(error.value)
    assert "clip_pretrained='/path/to/file'" in message
    assert str(empty_caches / 'hub') in message
    assert tried == [('huggingface.co', 443)]


def test_hf_hub_offline_fails_without_trying_the_network(empty_caches,
                                                         monkeypatch):
    from huggingface_hub import constants

    def no_call(*args, **kwargs):
        raise AssertionError('the network was tried')

    monkeypatch.setattr(socket, 'create_connection', no_call)
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    with pytest.raises(RuntimeError, match='HF_HUB_OFFLINE.*clip_pretrained'):
        build_open_clip('ViT-B-16-quickgelu', 'openai')


def test_cached_hub_file_is_found(tmp_path):
    cfg = open_clip.get_pretrained_cfg('RN50-quickgelu', 'openai')
    repo_id = cfg['hf_hub'].rstrip('/')
    folder = tmp_path / ('models--' + repo_id.replace('/', '--'))
    (folder / 'refs').mkdir(parents=True)
    (folder / 'refs' / 'main').write_text('abc123')
    snapshot = folder / 'snapshots' / 'abc123'
    snapshot.mkdir(parents=True)
    weights = snapshot / 'open_clip_pytorch_model.bin'
    weights.write_bytes(b'0')
    assert cached_pretrained_file(cfg, hub_cache=str(tmp_path),
                                  url_cache=str(tmp_path)) == str(weights)
    assert cached_pretrained_file(cfg, hub_cache=str(tmp_path / 'none'),
                                  url_cache=str(tmp_path / 'none')) is None


def test_unknown_tag_names_the_known_ones():
    with pytest.raises(ValueError, match="'openai'"):
        build_open_clip('RN50-quickgelu', 'no-such-tag')
