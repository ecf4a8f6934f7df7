# Copyright (c) mmltml contributors. All rights reserved.
"""CPRFLAsymmetricLoss against per-element float64 values and gradients.

References: the element-wise ASL formula of CPRFL's official loss (value; see
the asl_loss module docstring) and the closed-form derivative of each
element, with and without the detached focusing weight.
"""
import math

import pytest
import torch

from mmltml.models.losses import CPRFLAsymmetricLoss

B, C = 4, 6


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def ref_element(z, y, gamma_pos, gamma_neg, clip, eps=1e-8):
    """Loss and d loss / dz of one element: (value, grad detached,
    grad through the focusing weight)."""
    p = _sigmoid(z)
    dp = p * (1 - p)
    if y == 1:
        weight = (1 - p)**gamma_pos
        value = -weight * math.log(max(p, eps))
        d_log = -(1 - p)  # d(-log p)/dz
        d_weight = -gamma_pos * (1 - p)**(gamma_pos - 1) * dp if (
            gamma_pos > 0) else 0.0
        return value, weight * d_log, weight * d_log + d_weight * (
            -math.log(max(p, eps)))
    shift = clip if clip else 0.0
    p_m = max(p - shift, 0.0)
    weight = p_m**gamma_neg
    value = -weight * math.log(max(1 - p_m, eps))
    if p_m == 0:
        return value, 0.0, 0.0
    d_log = dp / (1 - p_m)  # d(-log(1 - p_m))/dz
    d_weight = gamma_neg * p_m**(gamma_neg - 1) * dp if gamma_neg > 0 else 0.
    return value, weight * d_log, weight * d_log + d_weight * (
        -math.log(1 - p_m))


def _data(seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(B, C, generator=gen, dtype=torch.float64) * 3
    y = (torch.rand(B, C, generator=gen) < 0.4).to(torch.float64)
    return z, y


@pytest.mark.parametrize('detach', [True, False])
@pytest.mark.parametrize('clip', [None, 0.05])
@pytest.mark.parametrize('gammas', [(0.0, 4.0), (1.0, 3.0), (0.0, 0.0)])
def test_value_and_gradient_match_reference(detach, clip, gammas):
    gamma_pos, gamma_neg = gammas
    loss_fn = CPRFLAsymmetricLoss(gamma_pos=gamma_pos, gamma_neg=gamma_neg,
                                  clip=clip, detach_focal_weight=detach)
    z, y = _data(seed=int(10 * gamma_neg + (clip or 0) * 100 + detach))
    z.requires_grad_(True)
    loss = loss_fn(z, y)
    loss.backward()
    refs = [[
        ref_element(z[k, i].item(), y[k, i].item(), gamma_pos, gamma_neg,
                    clip) for i in range(C)
    ] for k in range(B)]
    value = sum(r[0] for row in refs for r in row) / (B * C)
    grad = torch.tensor([[r[1 if detach else 2] for r in row]
                         for row in refs], dtype=torch.float64) / (B * C)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(value, rel=1e-12)
    assert torch.allclose(z.grad, grad, rtol=1e-10, atol=1e-14)


def test_detach_changes_only_the_gradient():
    z, y = _data(seed=1)
    z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
    l1 = CPRFLAsymmetricLoss(detach_focal_weight=True)(z1, y)
    l2 = CPRFLAsymmetricLoss(detach_focal_weight=False)(z2, y)
    assert torch.equal(l1, l2)
    l1.backward()
    l2.backward()
    assert not torch.allclose(z1.grad, z2.grad)


@pytest.mark.parametrize('clip', [None, 0.05])
def test_gradcheck_without_detach(clip):
    """The detached variant's gradient is checked in closed form above."""
    z, y = _data(seed=2)
    z.requires_grad_(True)
    loss_fn = CPRFLAsymmetricLoss(gamma_pos=1.0, clip=clip,
                                  detach_focal_weight=False)
    assert torch.autograd.gradcheck(lambda s: loss_fn(s, y), (z, ))


def test_differs_from_mmpretrain_only_in_reduction_and_detach():
    from mmpretrain.models.losses import AsymmetricLoss
    z, y = _data(seed=3)
    ours = CPRFLAsymmetricLoss()
    theirs = AsymmetricLoss(gamma_pos=0.0, gamma_neg=4.0, clip=0.05)
    # standalone 'mean' agrees (both mean over B x C) ...
    assert torch.allclose(ours(z, y), theirs(z, y), rtol=1e-12)
    assert torch.allclose(
        ours(z, y, reduction_override='none'),
        theirs(z, y, reduction_override='none'), rtol=1e-12)
    # ... and under a head's avg_factor=B mmpretrain is C times larger
    assert torch.allclose(theirs(z, y, avg_factor=B), C * ours(
        z, y, avg_factor=B))
    honour = CPRFLAsymmetricLoss(use_avg_factor=True)
    assert torch.allclose(honour(z, y, avg_factor=B), theirs(
        z, y, avg_factor=B))


def test_reductions_weight_loss_weight():
    z, y = _data(seed=4)
    loss_fn = CPRFLAsymmetricLoss(loss_weight=2.0)
    elem = loss_fn(z, y, reduction_override='none')
    assert elem.shape == (B, C)
    assert torch.allclose(loss_fn(z, y), elem.mean())
    assert torch.allclose(loss_fn(z, y, reduction_override='sum'), elem.sum())
    w = torch.arange(B, dtype=torch.float64)
    assert torch.allclose(loss_fn(z, y, weight=w), (elem * w[:, None]).mean())
    with pytest.raises(ValueError, match='reduction'):
        CPRFLAsymmetricLoss(reduction='batchmean')


def test_official_cprfl_values():
    """gamma- 4, gamma+ 0, clip 0.05 on hand-picked logits."""
    z = torch.tensor([[2.0, -1.0, 0.5]])
    y = torch.tensor([[1, 0, 0]])
    p = torch.sigmoid(z[0]).double()
    pm1, pm2 = p[1] - 0.05, p[2] - 0.05
    expected = (-torch.log(p[0]) - pm1**4 * torch.log(1 - pm1) -
                pm2**4 * torch.log(1 - pm2)) / 3
    assert torch.allclose(CPRFLAsymmetricLoss()(z, y).double(), expected,
                          rtol=1e-6)


def test_log_arguments_are_clamped_at_eps():
    """-log(max(p, eps)): a confident mistake costs -log(1e-8), not inf."""
    eps_loss = -math.log(1e-8)
    z = torch.tensor([[-40.0, 60.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    loss_fn = CPRFLAsymmetricLoss(clip=None, gamma_neg=0.0,
                                  reduction='none')
    assert torch.allclose(loss_fn(z, y),
                          torch.full((1, 2), eps_loss, dtype=torch.float64))
    loss_fn = CPRFLAsymmetricLoss(clip=None, gamma_neg=0.0, eps=1e-3,
                                  reduction='sum')
    assert loss_fn(z, y).item() == pytest.approx(-2 * math.log(1e-3))


def test_inputs_unchanged_half_autocast_meta():
    loss_fn = CPRFLAsymmetricLoss()
    z, y = _data(seed=5)
    z32 = z.float()
    before = z32.clone(), y.clone()
    ref = loss_fn(z32, y)
    assert torch.equal(z32, before[0]) and torch.equal(y, before[1])
    for dtype in (torch.float16, torch.bfloat16):
        low = z32.to(dtype)
        got = loss_fn(low, y.to(dtype))
        assert got.dtype == torch.float32
        assert torch.equal(got, loss_fn(low.float(), y.float()))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss_fn(z32, y.long())
    assert got.dtype == torch.float32 and torch.equal(got, ref)
    out = loss_fn.to('meta')(torch.empty(B, C, device='meta'),
                             torch.empty(B, C, device='meta'))
    assert out.device.type == 'meta' and out.dtype == torch.float32


def test_built_from_registry_in_head():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    head = MODELS.build(
        dict(type='MultiLabelLinearClsHead', num_classes=C, in_channels=5,
             loss=dict(type='CPRFLAsymmetricLoss')))
    torch.manual_seed(0)
    feats = (torch.randn(B, 5), )
    labels = [[0], [1, 2], [5], [3, 4]]
    target = torch.zeros(B, C)
    for k, lab in enumerate(labels):
        target[k, lab] = 1
    got = head.loss(feats, [DataSample().set_gt_label(lab)
                            for lab in labels])['loss']
    assert torch.allclose(got, CPRFLAsymmetricLoss()(head(feats), target))
