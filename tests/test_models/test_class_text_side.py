# Copyright (c) mmltml contributors. All rights reserved.
"""The shared class-text parts on their own: ``ClassTextEmbeds`` (when CLIP
runs, what is saved) and ``PromptLearner`` built from configs on a tower it
does not own, against open_clip's own ``encode_text``."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

import mmltml  # noqa: F401
from mmltml.models.text_embeds import ClassTextEmbeds
from mmltml.models.utils import PromptLearner
from mmltml.models.utils.clip_loader import build_clip_and_tokenizer

TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2,
                  layers=2))
NAMES = ['cat', 'traffic light', 'teddy bear']
BUILD = ('mmltml.models.text_embeds.clip_class_text_embeds.'
         'build_clip_and_tokenizer')


@pytest.fixture(scope='module')
def tiny_clip(tmp_path_factory):
    torch.manual_seed(0)
    clip, tokenizer = build_clip_and_tokenizer(model_cfg=TINY_CLIP)
    path = str(tmp_path_factory.mktemp('clip') / 'tiny_clip.pth')
    torch.save(clip.state_dict(), path)
    return path, clip.eval(), tokenizer


def source(weights, **kwargs):
    return dict(type='CLIPClassTextEmbeds', classnames=NAMES,
                clip_model_cfg=TINY_CLIP, clip_pretrained=weights, **kwargs)


@pytest.fixture
def builds(monkeypatch):
    """The ``pretrained`` argument of every CLIP build of a source."""
    calls = []

    def counted(**kwargs):
        calls.append(kwargs.get('pretrained'))
        return build_clip_and_tokenizer(**kwargs)

    monkeypatch.setattr(BUILD, counted)
    return calls


def test_frozen_clip_runs_once_and_only_when_needed(tiny_clip, builds):
    weights, clip, tokenizer = tiny_clip
    with torch.no_grad():
        expected = clip.encode_text(
            tokenizer([f'a photo of a {n}.' for n in NAMES]))
    embeds = ClassTextEmbeds(source(weights), num_classes=3)
    assert builds == [] and embeds.dims == 16 and not embeds.trainable
    embeds.init_weights()
    embeds.init_weights()
    assert builds == [weights]
    torch.testing.assert_close(embeds(), expected)
    assert list(embeds.state_dict()) == ['embeds']
    # filled from a checkpoint: CLIP never runs, also not at the first call
    loaded = ClassTextEmbeds(source(weights), num_classes=3)
    loaded.load_state_dict(embeds.state_dict())
    torch.testing.assert_close(loaded(), expected)
    # neither initialised nor loaded: the first call runs it
    lazy = ClassTextEmbeds(source(weights), num_classes=3)
    torch.testing.assert_close(lazy(), expected)
    assert builds == [weights, weights]


def test_trainable_tower_keeps_pretrained_weights_under_parent_init_cfg(
        tiny_clip, builds):
    """mmengine initialises a parent's init_cfg before its children: the
    pretrained weights ClassTextEmbeds loads are the ones that stay."""
    weights, clip, tokenizer = tiny_clip

    class Parent(BaseModule):

        def __init__(self):
            super().__init__(init_cfg=dict(type='Normal', layer='Linear',
                                           std=0.5))
            self.text_embeds = ClassTextEmbeds(
                source(weights, trainable=True), num_classes=3)
            self.fc = nn.Linear(16, 2)

    parent = Parent()
    fc_before = parent.fc.weight.clone()
    parent.init_weights()
    assert not torch.equal(parent.fc.weight, fc_before)
    tower = parent.text_embeds.source.clip
    for key, value in tower.state_dict().items():
        torch.testing.assert_close(value, clip.state_dict()[key])
    assert all(k.startswith('text_embeds.source.clip.') or k.startswith('fc')
               for k in parent.state_dict())
    texts = ['a cat on a mat', 'two dogs']
    features = parent.text_embeds.source.encode_texts(texts)
    with torch.no_grad():
        expected = clip.encode_text(tokenizer(texts))
    torch.testing.assert_close(features, expected)
    features.sum().backward()
    assert tower.token_embedding.weight.grad.abs().max() > 0


def test_sources_and_tensors():
    embeds = ClassTextEmbeds(torch.arange(6.).view(3, 2), num_classes=3)
    torch.testing.assert_close(embeds(), torch.arange(6.).view(3, 2))
    assert embeds.source is None and list(embeds.state_dict()) == ['embeds']
    built = MODELS.build(dict(type='ClassTextEmbeds', num_classes=3,
                              source=dict(type='RandomTextEmbeds', dims=4)))
    torch.testing.assert_close(built(), torch.randn(
        3, 4, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match=r'shape \[3, m\], got \[2, 2\]'):
        ClassTextEmbeds(torch.zeros(2, 2), num_classes=3)
    with pytest.raises(TypeError, match='text_embeds must be'):
        ClassTextEmbeds('embeds.pt', num_classes=3)
    with pytest.raises(RuntimeError, match='needs trainable=True'):
        MODELS.build(source(None, num_classes=3)).encode_texts(['a cat'])


def test_prompt_learners_from_configs_share_a_tower(tiny_clip):
    """Two learners (HP-DVAL's global and local prompts) built from configs
    on one frozen tower: initialised from "a photo of a", each encodes to
    open_clip's features of "a photo of a <name>."; their contexts are
    their own parameters and the tower is not part of them."""
    _, clip, tokenizer = tiny_clip
    args = dict(clip=clip, tokenizer=tokenizer, classnames=NAMES)
    cfg = dict(type='PromptLearner', ctx_init='a photo of a')
    shared = MODELS.build(dict(cfg, class_specific=False), default_args=args)
    per_class = MODELS.build(cfg, default_args=args)
    assert isinstance(shared, PromptLearner)
    assert list(shared.state_dict()) == ['ctx']
    assert shared.ctx.shape == (4, 16) and per_class.ctx.shape == (3, 4, 16)
    with torch.no_grad():
        expected = clip.encode_text(
            tokenizer([f'a photo of a {n}.' for n in NAMES]))
    for learner in (shared, per_class):
        feats, prompts = learner.encode(clip)
        torch.testing.assert_close(feats, expected, atol=1e-5, rtol=1e-5)
        assert prompts.shape == (3, 16, 16)
    shared.ctx.data.add_(torch.randn(4, 16))  # LayerNorm ignores a constant
    assert not torch.allclose(shared.encode(clip).text_feats, expected)
    torch.testing.assert_close(per_class.encode(clip, truncate=False)[0],
                               expected, atol=1e-5, rtol=1e-5)
