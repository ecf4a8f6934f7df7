# Copyright (c) mmltml contributors. All rights reserved.
"""A new head over class-text embeddings, written as a contributor would:
by composition of ``ClassTextEmbeds`` and ``PredLogitsMixin`` only (no
text-embedding code, nothing of ``VSIHead``), then trained a few steps and
reloaded from its checkpoint without building CLIP again."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.models.heads import PredLogitsMixin
from mmltml.models.text_embeds import ClassTextEmbeds
from mmltml.models.utils.clip_loader import build_clip_and_tokenizer

# ----------------------------------------------------------------------
# The new head (what a contributor writes; 14 lines).


@MODELS.register_module(force=True)
class TextLinearHead(PredLogitsMixin, MultiLabelClsHead):
    """Linear classifiers generated from the class text embeddings T:
    ``logits = x @ (T @ W^T + b)^T`` (x: pooled image features)."""

    def __init__(self, num_classes: int, in_channels: int, text_embeds,
                 loss: dict = dict(type='CrossEntropyLoss',
                                   use_sigmoid=True),
                 init_cfg=None) -> None:
        super().__init__(loss=loss, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.text_embeds = ClassTextEmbeds(text_embeds, num_classes)
        self.generator = nn.Linear(self.text_embeds.dims, in_channels)

    def forward(self, feats) -> torch.Tensor:
        return feats[-1] @ self.generator(self.text_embeds()).t()


# ----------------------------------------------------------------------

TINY_CLIP = dict(
    embed_dim=16,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2,
                  layers=1))
NAMES = ['cat', 'dog', 'teddy bear']
PROMPTS = [f'a photo of a {n}.' for n in NAMES]
BUILD = ('mmltml.models.text_embeds.clip_class_text_embeds.'
         'build_clip_and_tokenizer')


@pytest.fixture(scope='module')
def clip_weights(tmp_path_factory):
    torch.manual_seed(0)
    clip, tokenizer = build_clip_and_tokenizer(model_cfg=TINY_CLIP)
    path = str(tmp_path_factory.mktemp('clip') / 'tiny_clip.pth')
    torch.save(clip.state_dict(), path)
    return path, clip.eval(), tokenizer


def build_model(weights: str, trainable: bool, seed: int = 0):
    torch.manual_seed(seed)
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='TextLinearHead', num_classes=3, in_channels=64,
                  text_embeds=dict(type='CLIPClassTextEmbeds',
                                   classnames=NAMES,
                                   clip_model_cfg=TINY_CLIP,
                                   clip_pretrained=weights,
                                   trainable=trainable)),
        data_preprocessor=dict(num_classes=3, mean=[127.5] * 3,
                               std=[64.0] * 3, to_onehot=True)))


def batch():
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                            generator=generator) for _ in range(4)]
    samples = [DataSample().set_gt_label(lb)
               for lb in ([0], [1, 2], [2], [0, 1])]
    return dict(inputs=images, data_samples=samples)


@pytest.mark.parametrize('trainable', [False, True])
def test_new_head_trains_and_reloads_without_clip(clip_weights, tmp_path,
                                                  monkeypatch, trainable):
    weights, clip, tokenizer = clip_weights
    builds = []

    def counted(**kwargs):
        builds.append(kwargs.get('pretrained'))
        return build_clip_and_tokenizer(**kwargs)

    monkeypatch.setattr(BUILD, counted)
    model = build_model(weights, trainable)
    model.init_weights()  # runs CLIP once (or loads the tower's weights)
    assert [b for b in builds if b is not None] == [weights]
    head = model.head
    # logits = x (T W^T + b)^T with T from open_clip's own encode_text
    with torch.no_grad():
        text = clip.encode_text(tokenizer(PROMPTS), normalize=False)
        data = model.data_preprocessor(batch(), False)
        pooled = model.extract_feat(data['inputs'])[-1]
        expected = pooled @ (text @ head.generator.weight.t() +
                             head.generator.bias).t()
    torch.testing.assert_close(model(data['inputs'], mode='tensor'),
                               expected, atol=1e-5, rtol=1e-5)

    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    losses = [model.train_step(batch(), optim)['loss'].item()
              for _ in range(6)]
    assert losses[-1] < losses[0]
    if trainable:  # the tower trained
        assert not torch.equal(head.text_embeds.source.clip.token_embedding
                               .weight, clip.token_embedding.weight)
    else:  # cached once, in the checkpoint
        torch.testing.assert_close(head.text_embeds(), text)
        assert 'head.text_embeds.embeds' in model.state_dict()
    model.eval()
    expected = model.val_step(batch())
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)

    def no_weights(**kwargs):
        if kwargs.get('pretrained') is not None or not trainable:
            raise AssertionError('CLIP was built for a frozen head or its '
                                 'pretrained weights were loaded')
        return build_clip_and_tokenizer(**kwargs)

    monkeypatch.setattr(BUILD, no_weights)
    reloaded = build_model(weights, trainable, seed=1)
    load_checkpoint(reloaded, ckpt, map_location='cpu', strict=True)
    got = reloaded.eval().val_step(batch())
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.pred_logits, b.pred_logits,
                                   rtol=0, atol=0)
        torch.testing.assert_close(a.pred_score, b.pred_score)
