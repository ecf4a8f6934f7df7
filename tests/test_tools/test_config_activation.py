# Copyright (c) mmltml contributors. All rights reserved.
"""No config loads CLIP weights into a network with the wrong activation
(OpenAI weights need QuickGELU; open_clip builds plain names with GELU).

Every config under ``configs/`` is read with ``Config.fromfile`` (nothing is
built): every model component that takes ``clip_model_name`` /
``clip_pretrained`` / ``clip_model_cfg`` is resolved with the class's own
defaults and passed to the loader's decision function.
"""
import glob
import inspect
import os.path as osp

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmltml  # noqa: F401
from mmltml.models.utils.clip_loader import (check_quick_gelu,
                                             weights_quick_gelu)
from tests._tiny_setup import REPO_ROOT

CLIP_ARGS = ('clip_model_name', 'clip_pretrained', 'clip_model_cfg')
CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True))


def clip_components(node):
    """``(type, clip_model_name, clip_pretrained, clip_model_cfg)`` of every
    registered component below ``node`` that builds a CLIP."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from clip_components(item)
        return
    if not isinstance(node, dict):
        return
    cls = MODELS.get(node['type']) if isinstance(node.get('type'),
                                                 str) else None
    if cls is not None:
        params = inspect.signature(cls).parameters
        if any(a in params for a in CLIP_ARGS):
            args = {
                a: node.get(a, params[a].default if a in params else None)
                for a in CLIP_ARGS
            }
            if args['clip_model_cfg'] is not None:
                args['clip_model_name'] = None
            yield (node['type'], *args.values())
    for value in node.values():
        yield from clip_components(value)


@pytest.mark.parametrize('path', CONFIGS)
def test_no_config_loads_weights_into_the_wrong_activation(
        path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # relative checkpoint paths
    cfg = Config.fromfile(path)
    for _, name, pretrained, model_cfg in clip_components(
            cfg.get('model', {})):
        if name is None and model_cfg is None:
            continue
        check_quick_gelu(name, pretrained, model_cfg)


def test_the_walk_sees_the_openai_configs(monkeypatch):
    """The test above is not vacuous: the LMPT ViT-B/16 and CPRFL configs
    load OpenAI weights through the walked components."""
    monkeypatch.chdir(REPO_ROOT)
    found = {}
    for path in ('configs/lmpt/lmpt_vitb16_coco-lt.py',
                 'configs/cprfl/cprfl_r101_coco-lt.py',
                 'configs/cprfl/cprfl_clip-vitb16-frozen_coco-lt.py'):
        found[path] = [
            (kind, name) for kind, name, pretrained, _ in clip_components(
                Config.fromfile(path).model)
            if weights_quick_gelu(name, pretrained)
        ]
    assert found == {
        'configs/lmpt/lmpt_vitb16_coco-lt.py':
        [('CLIPPromptBackbone', 'ViT-B-16-quickgelu')],
        'configs/cprfl/cprfl_r101_coco-lt.py':
        [('CLIPClassTextEmbeds', 'RN50-quickgelu')],
        'configs/cprfl/cprfl_clip-vitb16-frozen_coco-lt.py':
        [('CLIPVisionBackbone', 'ViT-B-16-quickgelu'),
         ('CLIPClassTextEmbeds', 'ViT-B-16-quickgelu')],
    }
