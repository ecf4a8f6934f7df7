# Copyright (c) mmltml contributors. All rights reserved.
"""LabelGCNClsHead: ML-GCN's classifiers ``logits = x W^T``,
``W = GCN(T)``, on a stock mmpretrain backbone; the co-occurrence graph of
the training list travels in the checkpoint, so the model reloads and
predicts the same logits without that list."""
import os

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.structures import ClassDependent
from tests.test_models.test_gcn_text_adapter import leaky, mlgcn_graph

LABELS = [[0, 1], [0], [0], [0, 1], [2], [2, 0], [1], [1, 2], [0, 2]]
TEXT = torch.randn(3, 12, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def train_list(tmp_path):
    (tmp_path / 'labels.txt').write_text('cat 0\ndog 1\nteddy bear 2\n')
    lines = [f'img{i}.jpg ' + ' '.join(map(str, ls))
             for i, ls in enumerate(LABELS)]
    (tmp_path / 'train.txt').write_text('\n'.join(lines) + '\n')
    return dict(ann_file=str(tmp_path / 'train.txt'),
                label_file=str(tmp_path / 'labels.txt'))


def build_model(class_stats, seed=0, pool=None):
    torch.manual_seed(seed)
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=None if pool else dict(type='GlobalAveragePooling'),
        head=dict(
            type='LabelGCNClsHead', num_classes=3, in_channels=64,
            text_embeds=TEXT, pool=pool,
            adapter=dict(type='GCNTextAdapter', hidden_dims=(16, ),
                         residual=None,
                         graph=dict(mode='cooccurrence',
                                    class_stats=class_stats))),
        data_preprocessor=dict(num_classes=3, mean=[127.5] * 3,
                               std=[64.0] * 3, to_onehot=True)))


def batch():
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                            generator=generator) for _ in range(4)]
    samples = [DataSample().set_gt_label(lb)
               for lb in ([0], [1, 2], [2], [0, 1])]
    return dict(inputs=images, data_samples=samples)


@pytest.mark.parametrize('pool', [None, 'max'])
def test_logits_are_x_times_gcn_classifiers(train_list, pool):
    model = build_model(train_list, pool=pool)
    head = model.head
    assert isinstance(head, ClassDependent)
    A = torch.from_numpy(mlgcn_graph(LABELS, 3)).float()
    W1, W2 = [layer.weight for layer in head.adapter.layers]
    W = A @ leaky(A @ TEXT @ W1) @ W2  # [C, 64], ML-GCN Eq. 2 / 4
    with torch.no_grad():
        data = model.data_preprocessor(batch(), False)
        fmap = model.backbone(data['inputs'])[-1]
        x = fmap.amax((2, 3)) if pool else fmap.mean((2, 3))
        logits = model(data['inputs'], mode='tensor')
    torch.testing.assert_close(logits, x @ W.t(), atol=1e-5, rtol=1e-5)


def test_trains_and_reloads_without_the_training_list(train_list, tmp_path):
    model = build_model(train_list)
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    graph = model.head.adapter.adjacency.clone()
    weights = model.head.adapter.layers[0].weight.clone()
    losses = [model.train_step(batch(), optim)['loss'].item()
              for _ in range(6)]
    assert losses[-1] < losses[0]
    assert not torch.equal(model.head.adapter.layers[0].weight, weights)
    assert torch.equal(model.head.adapter.adjacency, graph)  # not learned
    model.eval()
    expected = model.val_step(batch())
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)

    os.remove(train_list['ann_file'])
    with pytest.raises(FileNotFoundError):
        build_model(train_list)
    reloaded = build_model(None, seed=1)
    load_checkpoint(reloaded, ckpt, map_location='cpu', strict=True)
    assert torch.equal(reloaded.head.adapter.adjacency, graph)
    got = reloaded.eval().val_step(batch())
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.pred_logits, b.pred_logits, rtol=0,
                                   atol=0)


def test_width_and_pool_errors(train_list):
    with pytest.raises(ValueError, match='in_channels'):
        MODELS.build(dict(
            type='LabelGCNClsHead', num_classes=3, in_channels=32,
            text_embeds=TEXT,
            adapter=dict(type='GCNTextAdapter', hidden_dims=(),
                         out_dims=64, residual=None,
                         graph=dict(mode='identity'))))
    head = MODELS.build(dict(
        type='LabelGCNClsHead', num_classes=3, in_channels=64,
        text_embeds=TEXT, pool='max',
        adapter=dict(type='GCNTextAdapter', hidden_dims=(), residual=None,
                     graph=dict(mode='identity'))))
    with pytest.raises(ValueError, match='feature maps'):
        head((torch.rand(2, 64), ))
    assert head((torch.rand(2, 64, 3, 3), )).shape == (2, 3)
