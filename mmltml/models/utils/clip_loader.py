# Copyright (c) mmltml contributors. All rights reserved.
"""Build open_clip models and tokenizers from config values.

One entry point for every component that needs CLIP (the prompt backbone,
the VSI head's class prompts, zero-shot CLIP, the tiny CLIP of the synthetic
benchmark):

* ``model_name`` + ``pretrained``: any open_clip model with a pretrained tag
  (``'openai'``, ``'laion2b_s34b_b88k'``, ...; downloaded by open_clip to its
  cache) or a local checkpoint path. OpenAI ResNet weights need the
  ``-quickgelu`` model names (``RN50-quickgelu``): plain ``RN50`` builds GELU
  and silently gives wrong features.
* ``model_cfg``: an open_clip ``CLIP`` config dict (``embed_dim``,
  ``vision_cfg``, ``text_cfg``, ``quick_gelu``) for small models, or the
  name of a built-in one (:data:`NAMED_MODEL_CFGS`, e.g.
  ``'tinyclip-synthetic'``), with an optional ``pretrained`` local
  state-dict file.

Weights are always loaded with ``torch.load(weights_only=True)``.
"""
import importlib
import os.path as osp
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn

OPENAI_RESNETS = ('RN50', 'RN101', 'RN50x4', 'RN50x16', 'RN50x64')


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


def _check_quickgelu(model_name: str, pretrained: Optional[str]) -> None:
    if pretrained == 'openai' and model_name in OPENAI_RESNETS:
        raise ValueError(
            f"open_clip builds '{model_name}' with GELU but OpenAI weights "
            f"need QuickGELU: use model_name='{model_name}-quickgelu'.")


def _load_state_dict(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'CLIP checkpoint not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # corrupt / truncated / not a weights file
        raise RuntimeError(
            f'Cannot load CLIP weights from {path}: {error}') from error
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    return state


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
    if model_name is not None:
        _check_quickgelu(model_name, pretrained)
        model = open_clip.create_model(model_name, pretrained=pretrained)
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
