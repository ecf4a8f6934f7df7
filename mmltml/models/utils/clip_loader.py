# Copyright (c) mmltml contributors. All rights reserved.
"""Build open_clip models and tokenizers from config values.

One entry point for every component that needs CLIP (the prompt backbone,
the VSI head's class prompts, zero-shot CLIP, the tiny CLIP of the synthetic
benchmark):

* ``model_name`` + ``pretrained``: any open_clip model with a pretrained tag
  (``'openai'``, ``'laion2b_s34b_b88k'``, ...; downloaded by open_clip to its
  cache) or a local checkpoint path.
* ``model_cfg``: an open_clip ``CLIP`` config dict (``embed_dim``,
  ``vision_cfg``, ``text_cfg``, ``quick_gelu``) for small models, or the
  name of a built-in one (:data:`NAMED_MODEL_CFGS`, e.g.
  ``'tinyclip-synthetic'``), with an optional ``pretrained`` local
  state-dict file.

**Activation.** Weights only work in the network they were trained with:
OpenAI's CLIP (every model, ResNets and ViTs) used QuickGELU, while
open_clip 3.x builds plain names (``'ViT-B-16'``, ``'RN50'``) with GELU and
only warns. :func:`check_quick_gelu` compares the network's activation with
the one of the weights, taken from open_clip's own pretrained registry
(``open_clip.get_pretrained_cfg(name, tag)['quick_gelu']``) for tags, and
from the file for local weights (an OpenAI TorchScript archive, or the
state dict of one, means QuickGELU), and refuses a mismatch with the model
name to use (``'ViT-B-16-quickgelu'``, ``'RN50-quickgelu'``). Other local
files cannot be told apart: use the ``-quickgelu`` name for OpenAI weights.

**Offline machines.** A pretrained tag that is not in open_clip's cache is
downloaded; without network access :func:`build_open_clip` stops at once
(``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1``, or a failed
connection) with an error naming the cache folder and the
``clip_pretrained='/path/to/file'`` alternative.

Weights are always loaded with ``torch.load(weights_only=True)``.
"""
import importlib
import os
import os.path as osp
import socket
import urllib.parse
import zipfile
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn

#: Keys an OpenAI CLIP TorchScript archive adds to its state dict.
OPENAI_JIT_KEYS = ('input_resolution', 'context_length', 'vocab_size')


#: Built-in CLIP config dicts accepted by name as ``model_cfg``.
NAMED_MODEL_CFGS = {
    'tinyclip-synthetic': ('mmltml.models.utils.tiny_clip', 'TINY_CLIP_CFG'),
}


def named_model_cfg(name: str) -> dict:
    """A built-in CLIP config dict by name (see :data:`NAMED_MODEL_CFGS`)."""
    if name not in NAMED_MODEL_CFGS:
        raise KeyError(f'unknown CLIP model_cfg {name!r}; built-in: '
                       f'{sorted(NAMED_MODEL_CFGS)}')
    module, attr = NAMED_MODEL_CFGS[name]
    return dict(getattr(importlib.import_module(module), attr))


def network_quick_gelu(model_name: Optional[str] = None,
                       model_cfg: Union[dict, str, None] = None
                       ) -> Optional[bool]:
    """Whether open_clip builds ``model_name`` (or ``model_cfg``) with
    QuickGELU; ``None`` for a name open_clip has no config for."""
    if model_cfg is not None:
        cfg = (named_model_cfg(model_cfg)
               if isinstance(model_cfg, str) else model_cfg)
        return bool(cfg.get('quick_gelu', False))
    import open_clip
    cfg = open_clip.get_model_config(model_name)
    return None if cfg is None else bool(cfg.get('quick_gelu', False))


def _base_name(model_name: str) -> str:
    suffix = '-quickgelu'
    return (model_name[:-len(suffix)]
            if model_name.endswith(suffix) else model_name)


def weights_quick_gelu(model_name: Optional[str],
                       pretrained: Optional[str]) -> Optional[bool]:
    """Whether the weights ``pretrained`` were trained with QuickGELU.

    A pretrained tag: open_clip's registry entry for ``model_name`` (or its
    name without ``-quickgelu``). A local file: ``True`` for an OpenAI
    TorchScript archive or a state dict holding its extra keys
    (:data:`OPENAI_JIT_KEYS`). ``None`` when it cannot be told (no weights,
    an unknown tag, another file).
    """
    if pretrained is None:
        return None
    if model_name is not None:
        import open_clip
        for name in dict.fromkeys((model_name, _base_name(model_name))):
            cfg = open_clip.get_pretrained_cfg(name, pretrained)
            if cfg:
                return bool(cfg.get('quick_gelu', False))
    if osp.isfile(pretrained):
        return True if _is_openai_file(pretrained) else None
    return None


def _is_openai_file(path: str) -> bool:
    """An OpenAI CLIP TorchScript archive, or a state dict saved from one."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any('/code/' in n or n.endswith('/constants.pkl') for n in names):
        return True  # TorchScript
    try:
        state = torch.load(path, map_location='cpu', weights_only=True,
                           mmap=True)
    except Exception:  # not a plain tensor dict; open_clip will say more
        return False
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    return isinstance(state, dict) and all(k in state
                                           for k in OPENAI_JIT_KEYS)


def check_quick_gelu(model_name: Optional[str] = None,
                     pretrained: Optional[str] = None,
                     model_cfg: Union[dict, str, None] = None) -> None:
    """Raise ``ValueError`` if the weights ``pretrained`` were trained with
    another activation (QuickGELU or GELU) than the network open_clip
    builds for ``model_name`` / ``model_cfg``; see the module docstring."""
    weights = weights_quick_gelu(model_name, pretrained)
    network = network_quick_gelu(model_name, model_cfg)
    if weights is None or network is None or weights == network:
        return
    act = {True: 'QuickGELU', False: 'GELU'}
    if model_cfg is not None:
        fix = f"set quick_gelu={weights} in clip_model_cfg"
    else:
        base = _base_name(model_name)
        fix = "use clip_model_name='{}'".format(
            f'{base}-quickgelu' if weights else base)
    raise ValueError(
        f'open_clip builds {model_name or "clip_model_cfg"!r} with '
        f'{act[network]} but the weights {pretrained!r} were trained with '
        f'{act[weights]} (open_clip.get_pretrained_cfg or the file '
        f'format says so): {fix}.')


def _load_state_dict(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'CLIP checkpoint not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # corrupt / truncated / not a weights file
        raise RuntimeError(
            f'Cannot load CLIP weights from {path}: {error}') from error
    if isinstance(state, torch.jit.ScriptModule):  # an OpenAI archive
        state = state.state_dict()
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    return {k: v for k, v in state.items() if k not in OPENAI_JIT_KEYS}


def _hub_cache_dir() -> str:
    from huggingface_hub import constants
    return constants.HF_HUB_CACHE


def _url_cache_dir() -> str:
    return osp.expanduser('~/.cache/clip')  # open_clip's default


def cached_pretrained_file(pretrained_cfg: dict,
                           hub_cache: Optional[str] = None,
                           url_cache: Optional[str] = None) -> Optional[str]:
    """The local file open_clip would load for a pretrained tag's config
    (``open_clip.get_pretrained_cfg(name, tag)``) if it is already in its
    cache, else ``None``; looked up as open_clip's ``download_pretrained``
    does (Hugging Face Hub first, safetensors first, then the URL)."""
    if 'file' in pretrained_cfg:
        return pretrained_cfg['file']
    hub = pretrained_cfg.get('hf_hub', '')
    if hub:
        from huggingface_hub import try_to_load_from_cache
        from open_clip.constants import HF_WEIGHTS_NAME
        repo_id, filename = os.path.split(hub)
        filename = filename or HF_WEIGHTS_NAME
        names = [filename]
        if filename.endswith(('.bin', '.pth')):
            names.insert(0, filename[:-4] + '.safetensors')
        for name in names:
            path = try_to_load_from_cache(
                repo_id, name, cache_dir=hub_cache or _hub_cache_dir())
            if isinstance(path, str) and osp.isfile(path):
                return path
    url = pretrained_cfg.get('url', '')
    if url:
        path = osp.join(url_cache or _url_cache_dir(), osp.basename(url))
        if osp.isfile(path):
            return path
    return None


def _offline_reason(pretrained_cfg: dict) -> Optional[str]:
    """Why the weights of a pretrained tag cannot be downloaded now, or
    ``None`` when the download server answers (one 5 s connection try)."""
    from huggingface_hub import constants
    hub = pretrained_cfg.get('hf_hub', '')
    if hub and (constants.HF_HUB_OFFLINE
                or os.environ.get('HF_HUB_OFFLINE', '0').upper()
                in ('1', 'ON', 'YES', 'TRUE')):
        return 'HF_HUB_OFFLINE is set'
    host = ('huggingface.co' if hub else
            urllib.parse.urlparse(pretrained_cfg.get('url', '')).hostname)
    if not host:
        return 'the tag has no download source'
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as error:
        return f'no connection to {host} ({error})'
    return None


def _create_model(model_name: str, pretrained: Optional[str]) -> nn.Module:
    """``open_clip.create_model``, failing at once when a pretrained tag
    would have to be downloaded without network access."""
    import open_clip
    if pretrained is None or osp.isfile(pretrained):
        return open_clip.create_model(model_name, pretrained=pretrained)
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        raise ValueError(
            f'clip_pretrained={pretrained!r} is neither a file nor a '
            f'pretrained tag of {model_name!r} (tags: '
            f'{open_clip.list_pretrained_tags_by_model(model_name)})')
    cached = cached_pretrained_file(cfg)
    if cached is not None:  # no network round trip for a cached file
        return open_clip.create_model(model_name, pretrained=cached)
    reason = _offline_reason(cfg)
    if reason is not None:
        raise RuntimeError(
            f'Cannot download the open_clip weights {model_name!r} / '
            f'{pretrained!r}: {reason}, and they are not in open_clip\'s '
            f'cache ({_hub_cache_dir()} for Hugging Face Hub files, '
            f'{_url_cache_dir()} for URLs). Copy the weights file to this '
            "machine and set clip_pretrained='/path/to/file' where the "
            'config names this model (e.g. --cfg-options '
            'model.backbone.clip_pretrained=/path/to/file, or '
            'model.head.text_embeds.clip_pretrained for VSIHead), or fill '
            'the cache on a machine with network access.')
    return open_clip.create_model(model_name, pretrained=pretrained)


def build_open_clip(model_name: Optional[str] = None,
                    pretrained: Optional[str] = None,
                    model_cfg: Union[dict, str, None] = None) -> nn.Module:
    """Return an open_clip ``CLIP`` model in fp32 on the CPU, in eval mode.

    Args:
        model_name: an open_clip model name (``open_clip.list_models()``).
        pretrained: a pretrained tag of ``model_name`` or a local file.
        model_cfg: a ``CLIP`` config dict; mutually exclusive with
            ``model_name``.
    """
    import open_clip
    if (model_name is None) == (model_cfg is None):
        raise ValueError('Give exactly one of model_name and model_cfg.')
    check_quick_gelu(model_name, pretrained, model_cfg)
    if model_name is not None:
        model = _create_model(model_name, pretrained)
    else:
        cfg = (named_model_cfg(model_cfg)
               if isinstance(model_cfg, str) else dict(model_cfg))
        model = open_clip.CLIP(
            embed_dim=cfg.pop('embed_dim'),
            vision_cfg=cfg.pop('vision_cfg'),
            text_cfg=cfg.pop('text_cfg'),
            quick_gelu=cfg.pop('quick_gelu', False),
            **cfg)
        if pretrained is not None:
            missing, unexpected = model.load_state_dict(
                _load_state_dict(pretrained), strict=False)
            if missing or unexpected:
                raise RuntimeError(
                    f'CLIP weights {pretrained} do not match model_cfg: '
                    f'missing {missing[:5]}, unexpected {unexpected[:5]}')
    return model.float().eval()


def build_tokenizer(model_name: Optional[str] = None,
                    model_cfg: Union[dict, str, None] = None) -> Callable:
    """Return the open_clip tokenizer for a model name or config dict."""
    import open_clip
    if model_name is not None:
        return open_clip.get_tokenizer(model_name)
    if isinstance(model_cfg, str):
        model_cfg = named_model_cfg(model_cfg)
    text_cfg = model_cfg['text_cfg']
    context_length = (text_cfg.get('context_length', 77) if isinstance(
        text_cfg, dict) else text_cfg.context_length)
    return open_clip.tokenizer.SimpleTokenizer(context_length=context_length)


def build_clip_and_tokenizer(model_name: Optional[str] = None,
                             pretrained: Optional[str] = None,
                             model_cfg: Union[dict, str, None] = None
                             ) -> Tuple[nn.Module, Callable]:
    """Both of :func:`build_open_clip` and :func:`build_tokenizer`."""
    return (build_open_clip(model_name, pretrained, model_cfg),
            build_tokenizer(model_name, model_cfg))
