# Copyright (c) mmltml contributors. All rights reserved.
"""GCNTextAdapter against the layer equations written out (ML-GCN Eq. 2,
LT-GCN's residual), its graphs against LT-GCN's / ML-GCN's steps
transcribed here, and the graph as a non-learned buffer that copies (EMA)
and checkpoints carry."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.model import ExponentialMovingAverage
from mmpretrain.registry import MODELS

import mmltml  # noqa: F401
from mmltml.models.utils import GCNTextAdapter
from mmltml.structures import compute_class_stats

LABELS = [[0, 1], [0], [0], [0, 1], [2], [2, 0], [3], [1, 3], [0, 3]]


def leaky(x, slope=0.2):
    return torch.where(x > 0, x, slope * x)


def lt_gcn_graph(feats: np.ndarray, topk: int, p: float) -> np.ndarray:
    """LT-GCN model.py:196-209 transcribed: cosine similarities, keep the
    top-k of each row (self included), zero the diagonal, rows scaled to
    p, diagonal 1 - p."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sim = unit @ unit.T
    out = np.zeros_like(sim)
    for i, row in enumerate(sim):
        keep = np.argsort(-row, kind='stable')[:topk]
        out[i, keep] = row[keep]
    np.fill_diagonal(out, 0)
    out = out * p / out.sum(1, keepdims=True)
    np.fill_diagonal(out, 1 - p)
    return out


def mlgcn_graph(labels, num_classes, t=0.4, p=0.25) -> np.ndarray:
    """ML-GCN gen_A + gen_adj transcribed from the label lists."""
    counts = np.zeros((num_classes, num_classes))
    nums = np.zeros(num_classes)
    for ls in labels:
        for i in ls:
            nums[i] += 1
            for j in ls:
                if i != j:
                    counts[i, j] += 1
    adj = counts / nums[:, None]
    adj = (adj >= t).astype(float)
    adj = adj * p / (adj.sum(0, keepdims=True) + 1e-6)
    adj = adj + np.identity(num_classes)
    d = np.diag(adj.sum(1)**-0.5)
    return d @ adj.T @ d  # gen_adj: D^-1/2 A^T D^-1/2 (as torch.matmul)


def build(dims=(6, 10, 12, 6), **kwargs):
    """An adapter with the widths ``dims = (d_0, ..., d_L)``."""
    torch.manual_seed(0)
    kwargs.setdefault('graph', dict(mode='text_similarity'))
    return MODELS.build(dict(type='GCNTextAdapter', num_classes=4,
                             in_dims=dims[0], hidden_dims=dims[1:-1],
                             out_dims=dims[-1], **kwargs))


def test_forward_is_the_layer_equations():
    stats = compute_class_stats(LABELS, 4)
    adapter = build(graph=dict(mode='cooccurrence', class_stats=stats))
    A = torch.from_numpy(mlgcn_graph(LABELS, 4)).float()
    torch.testing.assert_close(adapter.adjacency, A, atol=1e-6, rtol=0)
    T = torch.randn(4, 6)
    W1, W2, W3 = [layer.weight for layer in adapter.layers]
    H1 = leaky(A @ T @ W1)
    H2 = leaky(A @ H1 @ W2)
    expected = A @ H2 @ W3 + T
    torch.testing.assert_close(adapter(T), expected, atol=1e-5, rtol=1e-5)
    # ML-GCN: no residual, widths need not match
    plain = build(dims=(6, 10, 8), residual=None,
                  graph=dict(mode='cooccurrence', class_stats=stats))
    W1, W2 = [layer.weight for layer in plain.layers]
    torch.testing.assert_close(plain(T), A @ leaky(A @ T @ W1) @ W2,
                               atol=1e-5, rtol=1e-5)
    half = build(residual=0.5, graph=dict(mode='identity'))
    W1, W2, W3 = [layer.weight for layer in half.layers]
    torch.testing.assert_close(
        half(T), leaky(leaky(T @ W1) @ W2) @ W3 + 0.5 * T, atol=1e-5,
        rtol=1e-5)


def test_parameters_no_bias_uniform_init_graph_not_learned():
    adapter = build(dims=(64, 256, 512, 64), graph=dict(mode='identity'))
    names = [n for n, _ in adapter.named_parameters()]
    assert names == [f'layers.{i}.weight' for i in range(3)]
    for layer, (d_in, d_out) in zip(adapter.layers,
                                    [(64, 256), (256, 512), (512, 64)]):
        weight = layer.weight
        assert weight.shape == (d_in, d_out)
        bound = 1 / math.sqrt(d_out)
        assert weight.abs().max() <= bound
        assert weight.abs().max() > 0.99 * bound  # spans the interval
        assert abs(weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound
    assert 'adjacency' in adapter.state_dict()
    assert not adapter.adjacency.requires_grad
    T = torch.rand(4, 64, requires_grad=True)
    adapter(T).sum().backward()
    assert adapter.adjacency.grad is None
    assert all(p.grad is not None for p in adapter.parameters())


@pytest.mark.parametrize('topk, p', [(None, 0.2), (2, 0.3), (4, 0.0)])
def test_text_similarity_graph_of_first_input(topk, p):
    adapter = build(graph=dict(mode='text_similarity', topk=topk,
                               reweight=p))
    assert not adapter.graph_ready
    T0 = torch.rand(4, 6) + 0.1
    ema = ExponentialMovingAverage(adapter, momentum=0.5,
                                   update_buffers=True)
    adapter(T0)
    expected = lt_gcn_graph(T0.double().numpy(), topk or 4, p)
    np.testing.assert_allclose(adapter.adjacency.numpy(), expected,
                               atol=1e-6)
    graph = adapter.adjacency.clone()
    adapter(torch.rand(4, 6))  # later inputs leave it alone
    assert torch.equal(adapter.adjacency, graph)
    # an EMA copy made before the first call takes the graph at its first
    # update, and its forward never recomputes it from its own inputs
    ema.update_parameters(adapter)
    ema.update_parameters(adapter)
    ema.module(torch.rand(4, 6))
    assert torch.equal(ema.module.adjacency, graph)


def test_text_similarity_graph_from_a_source_in_init_weights():
    feats = torch.rand(4, 6) + 0.1
    adapter = build(graph=dict(mode='text_similarity', text_embeds=feats,
                               reweight=0.2))
    assert not adapter.graph_ready
    adapter.init_weights()
    np.testing.assert_allclose(adapter.adjacency.numpy(),
                               lt_gcn_graph(feats.double().numpy(), 4, 0.2),
                               atol=1e-6)
    graph = adapter.adjacency.clone()
    adapter(torch.rand(4, 6))  # the input is not the graph's source
    assert torch.equal(adapter.adjacency, graph)


def test_identity_graph_and_lt_gcn_coco_p0_are_the_identity():
    assert torch.equal(build(graph=dict(mode='identity')).adjacency,
                       torch.eye(4))
    adapter = build(graph=dict(mode='text_similarity', reweight=0.0))
    adapter(torch.rand(4, 6))
    assert torch.equal(adapter.adjacency, torch.eye(4))


def test_graph_travels_in_checkpoints_without_statistics():
    stats = compute_class_stats(LABELS, 4)
    trained = build(graph=dict(mode='cooccurrence', class_stats=stats))
    T = torch.randn(4, 6)
    state = copy.deepcopy(trained.state_dict())
    rebuilt = build(graph=dict(mode='cooccurrence', class_stats=None))
    assert not rebuilt.graph_ready
    with pytest.raises(RuntimeError, match='class_stats'):
        rebuilt(T)
    rebuilt.load_state_dict(state, strict=True)
    assert torch.equal(rebuilt.adjacency, trained.adjacency)
    assert torch.equal(rebuilt(T), trained(T))


def test_class_fields_and_errors():
    stats = compute_class_stats(LABELS, 4)
    adapter = build(graph=dict(mode='cooccurrence', class_stats=stats))
    fields = {f.name: f for f in adapter.class_fields()}
    assert fields['num_classes'].num_classes == 4
    assert fields['class_freq'].num_images == len(LABELS)
    with pytest.raises(ValueError, match='residual'):
        build(dims=(6, 8))
    with pytest.raises(ValueError, match='positive'):
        build(dims=(6, 0, 6))
    assert build(dims=(6, 6)).dims == [6, 6]  # one layer
    with pytest.raises(ValueError, match='mode'):
        build(graph=dict(mode='glove'))
    with pytest.raises(ValueError, match='keys'):
        build(graph=dict(mode='identity', reweight=0.2))
    with pytest.raises(ValueError, match=r'\[4, 6\]'):
        build(graph=dict(mode='identity'))(torch.rand(3, 6))
    with pytest.raises(ValueError, match='4 classes'):
        GCNTextAdapter(5, 6, graph=dict(mode='cooccurrence',
                                        class_stats=stats))
    with pytest.raises(ValueError, match='text-similarity graph'):
        build()(-torch.eye(4, 6) + torch.eye(4, 6).roll(1, 0))
