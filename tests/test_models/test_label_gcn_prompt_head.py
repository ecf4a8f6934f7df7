# Copyright (c) mmltml contributors. All rights reserved.
"""LabelGCNPromptHead on CLIPPromptBackbone (LT-GCN): logits
``s * cos(v, GCN(T) + T)`` against open_clip's own encoders and the GCN
equations written out; the graph of the first prompts' text similarities
kept in the checkpoint; the image tower frozen (cached path) or fully
fine-tuned (LT-GCN) as a backbone option."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.models.utils.clip_loader import build_clip_and_tokenizer
from tests.test_models.test_gcn_text_adapter import leaky, lt_gcn_graph

TINY = dict(
    embed_dim=16,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=16, vocab_size=49408, width=16, heads=2,
                  layers=1))
NAMES = ['cat', 'dog', 'teddy bear', 'car']


@pytest.fixture(scope='module')
def clip_file(tmp_path_factory):
    torch.manual_seed(0)
    clip, _ = build_clip_and_tokenizer(model_cfg=TINY)
    path = str(tmp_path_factory.mktemp('clip') / 'tiny.pth')
    torch.save(clip.state_dict(), path)
    return path


def build_model(clip_file, seed=0, trainable=False, text_chunk_size=None,
                **head):
    torch.manual_seed(seed)
    head = dict(dict(
        type='LabelGCNPromptHead', num_classes=len(NAMES),
        adapter=dict(type='GCNTextAdapter', in_dims=16,
                     hidden_dims=(32, 32),
                     graph=dict(mode='text_similarity', reweight=0.2)),
        loss=dict(type='DBLoss', reweight_func='class_static',
                  focal=dict(focal=True, gamma=2, balance_param=2.0),
                  logit_reg=dict(neg_scale=2.0, init_bias=0.05),
                  map_param=dict(alpha=0.1, beta=0.01, gamma=0.0),
                  class_freq=[6, 4, 2, 1], train_num=10)), **head)
    return MODELS.build(dict(
        type='CLIPPromptClassifier',
        backbone=dict(type='CLIPPromptBackbone', classnames=NAMES,
                      clip_model_cfg=TINY, clip_pretrained=clip_file,
                      prompt_learner=dict(ctx_init='a photo of a',
                                          class_specific=False),
                      image_tower_trainable=trainable,
                      text_chunk_size=text_chunk_size),
        head=head,
        data_preprocessor=dict(num_classes=len(NAMES), mean=[127.5] * 3,
                               std=[64.0] * 3, to_onehot=True)))


def batch():
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                            generator=generator) for _ in range(4)]
    samples = [DataSample().set_gt_label(lb)
               for lb in ([0], [1, 2], [3], [0, 1])]
    return dict(inputs=images, data_samples=samples)


def test_logits_are_scaled_cosines_of_the_refined_prompts(clip_file):
    model = build_model(clip_file).eval()
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    with torch.no_grad():
        data = model.data_preprocessor(batch(), False)
        logits = model(data['inputs'], mode='tensor')
        # open_clip's own encoders; the shared context "a photo of a" at
        # initialisation gives the text features of the plain prompts
        T = clip.encode_text(tokenizer([f'a photo of a {n}.'
                                        for n in NAMES]))
        v = clip.encode_image(data['inputs'])
    A = torch.from_numpy(lt_gcn_graph(T.double().numpy(), 4, 0.2)).float()
    torch.testing.assert_close(model.head.adapter.adjacency, A, atol=1e-5,
                               rtol=0)
    W1, W2, W3 = [layer.weight for layer in model.head.adapter.layers]
    refined = A @ leaky(A @ leaky(A @ T @ W1) @ W2) @ W3 + T
    expected = 10 * F.normalize(v, dim=-1) @ F.normalize(refined,
                                                         dim=-1).t()
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_scale_options(clip_file):
    clip_scale = build_model(clip_file, logit_scale=None).eval()
    learned = build_model(clip_file, learn_scale=True, logit_scale=5.0)
    assert learned.head.log_scale.item() == pytest.approx(math.log(5.0))
    data = clip_scale.data_preprocessor(batch(), False)
    with torch.no_grad():
        feats = clip_scale.extract_feat(data['inputs'])
        _, _, scale = clip_scale.head.pre_logits(feats)
    torch.testing.assert_close(scale, clip_scale.backbone.logit_scale)
    optim = OptimWrapper(torch.optim.SGD(learned.parameters(), lr=0.1))
    learned.train_step(batch(), optim)
    assert learned.head.log_scale.item() != pytest.approx(math.log(5.0))
    with pytest.raises(ValueError, match='initial'):
        build_model(clip_file, learn_scale=True, logit_scale=None)


@pytest.mark.parametrize('trainable', [False, True])
def test_trains_and_reloads_with_the_same_graph(clip_file, tmp_path,
                                                trainable):
    model = build_model(clip_file, trainable=trainable)
    backbone = model.backbone
    visual = dict(backbone.clip.visual.named_parameters())
    text_weight = backbone.clip.transformer.resblocks[0].mlp.c_fc.weight
    before = {k: v.clone() for k, v in visual.items()}
    text_before = text_weight.clone()
    ctx_before = backbone.prompt_learner.ctx.clone()
    model.train()
    bn = backbone.clip.visual.bn1
    assert bn.training == trainable
    assert not backbone.clip.transformer.training
    assert (model.frozen_image_encoder(True) is None) == trainable
    optim = OptimWrapper(torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2))
    running_mean = bn.running_mean.clone()
    losses = [model.train_step(batch(), optim)['loss'].item()
              for _ in range(5)]
    assert losses[-1] < losses[0]
    graph = model.head.adapter.adjacency.clone()
    assert model.head.adapter.graph_ready
    assert not torch.equal(backbone.prompt_learner.ctx, ctx_before)
    assert torch.equal(text_weight, text_before)  # text tower frozen
    changed = [k for k, v in visual.items() if not torch.equal(v, before[k])]
    if trainable:  # every weight of the tower, BN statistics updated
        assert sorted(changed) == sorted(visual)
        assert not torch.equal(bn.running_mean, running_mean)
    else:
        assert changed == []
        assert torch.equal(bn.running_mean, running_mean)
    keys = model.state_dict()
    assert 'head.adapter.adjacency' in keys
    assert any(k.startswith('backbone.clip.visual.') for k in keys) == \
        trainable

    model.eval()
    expected = model.val_step(batch())
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)
    reloaded = build_model(clip_file, seed=1, trainable=trainable)
    assert not reloaded.head.adapter.graph_ready
    load_checkpoint(reloaded, ckpt, map_location='cpu', strict=True)
    assert torch.equal(reloaded.head.adapter.adjacency, graph)
    got = reloaded.eval().val_step(batch())
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.pred_logits, b.pred_logits, rtol=0,
                                   atol=0)
    assert np.isfinite(torch.stack([a.pred_logits for a in got])).all()


def test_adapter_must_keep_the_width(clip_file):
    with pytest.raises(ValueError, match='own width'):
        build_model(clip_file, adapter=dict(
            type='GCNTextAdapter', in_dims=16, hidden_dims=(), out_dims=8,
            residual=None,
            graph=dict(mode='identity')))


def test_trainable_tower_with_chunked_text_encoding(clip_file):
    """The class prompts encoded in chunks of 2 classes (recomputed in the
    backward pass) give the loss and the gradients of the prompts, the
    GCN and the trained image tower of the encoding in one piece."""
    grads = []
    for chunk in (0, 2):
        model = build_model(clip_file, trainable=True, text_chunk_size=chunk)
        assert model.backbone.class_text_chunk() == chunk
        model.train()
        data = model.data_preprocessor(batch(), True)
        loss = model(data['inputs'], data['data_samples'], mode='loss')
        total = sum(v for k, v in loss.items() if 'loss' in k)
        total.backward()
        grads.append((total.detach(), {
            name: p.grad.clone() for name, p in model.named_parameters()
            if p.requires_grad}))
    (loss0, whole), (loss2, chunked) = grads
    torch.testing.assert_close(loss2, loss0)
    assert whole.keys() == chunked.keys()
    assert any(k.startswith('backbone.clip.visual.') for k in whole)
    assert 'backbone.prompt_learner.ctx' in whole
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], atol=1e-6,
                                   rtol=1e-4, msg=name)
