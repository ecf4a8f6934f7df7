# Copyright (c) mmltml contributors. All rights reserved.
"""BalancedAsymmetricLoss against LM-CLIP's official loss, transcribed.

``official_bal`` below follows ``BalancedAsymmetricLossOptimized``
(``damilab/lm-clip`` ``asl_loss.py:189-288``, ref-lmclip.md §2.3) step by
step in float64 torch: the logits divided by the (not detached) batch
maximum, targets smoothed, anti-targets not, (1 + w_c) on the positive term,
the focusing weight with gradients. The class weights are computed here in
the official form (N / n_c)^s / max_k (N / n_k)^s from the official training
counts (``ltml_counts``). The gradient split through the batch maximum is
checked against its closed form. Golden values: ref-lmclip.md §2.6.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmltml.models.losses import BalancedAsymmetricLoss
from tests.test_datasets.ltml_counts import COCO_TRAIN, VOC_TRAIN

FRAGMENTS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'losses')
COUNTS = {'coco-lt': (COCO_TRAIN, 1909), 'voc-lt': (VOC_TRAIN, 1142)}
# ref-lmclip.md §2.5: asl_mul (lambda), gamma-, s, label smoothing
OFFICIAL = {
    'voc-lt_rn50': (0.2, 12.0, 0.7, 0.01),
    'voc-lt_vitb16': (0.4, 9.8, 1.35, 0.1),
    'coco-lt_rn50': (6.0, 9.8, 1.35, 0.1),
    'coco-lt_vitb16': (5.0, 9.8, 1.6, 0.1),
}

# ref-lmclip.md §2.6
GOLD_COS = [[.30, .25, .20, .15, .10], [.10, .15, .20, .25, .30], [.22] * 5,
            [.28, .12, .26, .14, .18]]
GOLD_Y = [[1, 0, 0, 0, 0], [0, 0, 1, 0, 1], [0, 1, 0, 0, 0], [1, 0, 1, 0, 0]]


def official_weights(freq, n_img, power):
    """coco_mlt.py:162-198: (N / n_c)^s normalised by its maximum."""
    ratio = (n_img / torch.tensor(freq, dtype=torch.float64))**power
    return ratio / ratio.max()


def official_bal(z, y, w, gamma_neg, label_smoothing, gamma_pos=0.0,
                 clip=0.05, eps=1e-8, normalize=True):
    """The official forward, float64, gradients everywhere."""
    x = z / z.max() if normalize else z
    xs_pos = torch.sigmoid(x)
    xs_neg = 1.0 - xs_pos
    xs_neg = (xs_neg + clip).clamp(max=1)
    num_classes = z.shape[1]
    targets = y * (1 - label_smoothing) + label_smoothing / num_classes
    anti_targets = 1 - y
    loss = targets * (1 + w) * torch.log(xs_pos.clamp(min=eps))
    loss = loss + anti_targets * torch.log(xs_neg.clamp(min=eps))
    base = 1 - xs_pos * targets - xs_neg * anti_targets
    loss = loss * torch.pow(base, gamma_pos * targets +
                            gamma_neg * anti_targets)
    return -loss.mean()


def fragment(name):
    cfg = Config.fromfile(osp.join(FRAGMENTS, f'bal_{name}.py'))
    return cfg[f'bal_{name}'.replace('-', '_') + '_loss'].to_dict()


def clip_like_batch(num_classes, seed, rows=8):
    """100 x cosines in 0.05-0.35, as CLIP gives (ref-lmclip §2.3)."""
    gen = torch.Generator().manual_seed(seed)
    cos = 0.05 + 0.3 * torch.rand(rows, num_classes, generator=gen,
                                  dtype=torch.float64)
    y = (torch.rand(rows, num_classes, generator=gen) < 0.15).double()
    y[torch.arange(rows), torch.randint(num_classes, (rows, ),
                                        generator=gen)] = 1
    return 100 * cos, y


def test_golden_values():
    z = 100 * torch.tensor(GOLD_COS, dtype=torch.float64)
    y = torch.tensor(GOLD_Y, dtype=torch.float64)
    # w = [1, .5, .25, .1, .05] are the weights of counts 1, 2, 4, 10, 20
    # at s = 1
    freq = [1, 2, 4, 10, 20]
    assert BalancedAsymmetricLoss(
        gamma_neg=9.8, label_smoothing=0.1, class_weight_power=1.0,
        class_freq=freq)(z, y).item() == pytest.approx(0.149513, abs=1e-6)
    assert BalancedAsymmetricLoss(gamma_neg=9.8)(z, y).item() == \
        pytest.approx(0.110665, abs=1e-6)
    assert BalancedAsymmetricLoss(
        gamma_neg=12, label_smoothing=0.01, class_weight_power=1.0,
        class_freq=freq)(z, y).item() == pytest.approx(0.158578, abs=1e-6)
    plain_asl = BalancedAsymmetricLoss(gamma_neg=9.8, normalize=None)
    assert plain_asl(z, y).item() == pytest.approx(1.268354, abs=1e-6)


@pytest.mark.parametrize('name', sorted(OFFICIAL))
def test_fragment_equals_official_loss(name):
    lam, gamma_neg, power, smoothing = OFFICIAL[name]
    freq, n_img = COUNTS[name.split('_')[0]]
    opts = fragment(name)
    assert opts == dict(type='BalancedAsymmetricLoss', gamma_pos=0.0,
                        gamma_neg=gamma_neg, clip=0.05, eps=1e-8,
                        label_smoothing=smoothing, class_weight_power=power,
                        normalize='batch_max', loss_weight=lam)
    opts.pop('type')
    loss_fn = BalancedAsymmetricLoss(
        **opts, class_stats=dict(class_freq=freq, num_images=n_img))
    w = official_weights(freq, n_img, power)
    assert w.max() == 1 and w.argmax() == torch.tensor(freq).argmin()
    for seed in range(3):
        z, y = clip_like_batch(len(freq), seed)
        z.requires_grad_(True)
        got = loss_fn(z, y)
        (grad, ) = torch.autograd.grad(got, z)
        ref_z = z.detach().clone().requires_grad_(True)
        expected = lam * official_bal(ref_z, y, w, gamma_neg, smoothing)
        (ref_grad, ) = torch.autograd.grad(expected, ref_z)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-15)


def test_gradient_splits_through_the_batch_maximum():
    """dL/dz = g / M, plus -sum(g z) / M^2 on the maximum's element, with
    g = dL/dx on x = z / M (the official code does not detach M)."""
    freq, n_img = COUNTS['voc-lt']
    opts = fragment('voc-lt_vitb16')
    opts.pop('type')
    loss_fn = BalancedAsymmetricLoss(**opts, class_freq=freq)
    z, y = clip_like_batch(20, seed=7)
    z.requires_grad_(True)
    (grad, ) = torch.autograd.grad(loss_fn(z, y), z)
    top = z.detach().max()
    x = (z.detach() / top).requires_grad_(True)
    w = official_weights(freq, n_img, 1.35)
    lam = opts['loss_weight']
    inner = lam * official_bal(x, y, w, 9.8, 0.1, normalize=False)
    (g, ) = torch.autograd.grad(inner, x)
    expected = g / top
    flat = z.detach().argmax()
    expected.view(-1)[flat] -= (g * z.detach()).sum() / top**2
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-15)
    # the maximum's extra path is material: a detached maximum differs
    assert abs((g * z.detach()).sum() / top**2) > 1e-3 * grad.abs().max()


def test_negative_focal_base_is_clamped():
    """A negative with p < m has a negative focusing base: the official
    power is NaN for gamma- = 9.8; here the weight is 0."""
    z = torch.tensor([[40.0, -200.0], [10.0, 5.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    official = official_bal(z, y, torch.zeros(2), 9.8, 0.1)
    assert torch.isnan(official)
    loss_fn = BalancedAsymmetricLoss(gamma_neg=9.8, label_smoothing=0.1)
    z.requires_grad_(True)
    elem = loss_fn(z, y, reduction_override='none')
    assert torch.isfinite(elem).all()
    assert elem[0, 1] == 0  # p = sigmoid(-5) < 0.05: switched off
    elem.sum().backward()
    assert torch.isfinite(z.grad).all()
    # without the clamp the official NaN is reproduced
    raw = BalancedAsymmetricLoss(gamma_neg=9.8, label_smoothing=0.1,
                                 clamp_focal_base=False)
    assert torch.isnan(raw(z.detach(), y))


def test_batch_maximum_must_be_positive():
    loss_fn = BalancedAsymmetricLoss()
    with pytest.raises(ValueError, match='positive batch maximum'):
        loss_fn(-torch.rand(2, 3) - 0.1, torch.ones(2, 3))
    with pytest.raises(ValueError, match='positive batch maximum'):
        loss_fn(torch.zeros(2, 3), torch.ones(2, 3))


def test_options_statistics_and_reductions():
    z, y = clip_like_batch(5, seed=9, rows=4)
    with pytest.raises(ValueError, match='needs class statistics'):
        BalancedAsymmetricLoss(class_weight_power=1.0)
    with pytest.raises(ValueError, match='no class_weight_power'):
        BalancedAsymmetricLoss(class_freq=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match='no training image'):
        BalancedAsymmetricLoss(class_weight_power=1.0,
                               class_freq=[1, 0, 3, 4, 5])
    with pytest.raises(ValueError, match='normalize'):
        BalancedAsymmetricLoss(normalize='max')
    with pytest.raises(ValueError, match='classes'):
        BalancedAsymmetricLoss(class_weight_power=1.0,
                               class_freq=[1, 2, 3])(z, y)
    loss_fn = BalancedAsymmetricLoss(label_smoothing=0.1)
    elem = loss_fn(z, y, reduction_override='none')
    assert elem.shape == (4, 5)
    assert torch.allclose(loss_fn(z, y), elem.mean())
    assert torch.allclose(loss_fn(z, y, reduction_override='sum'), elem.sum())
    assert torch.equal(loss_fn(z, y, avg_factor=4), loss_fn(z, y))
    mm = BalancedAsymmetricLoss(label_smoothing=0.1, use_avg_factor=True)
    assert torch.allclose(mm(z, y, avg_factor=4), elem.sum() / 4)
    sample_w = torch.tensor([1.0, 0.0, 2.0, 0.5], dtype=torch.float64)
    assert torch.allclose(loss_fn(z, y, weight=sample_w),
                          (elem * sample_w[:, None]).mean())
    # detached focusing weight: same value, other gradient
    detached = BalancedAsymmetricLoss(label_smoothing=0.1,
                                      detach_focal_weight=True)
    assert torch.allclose(detached(z, y), loss_fn(z, y))
    # buffers: not in checkpoints, follow the module
    weighted = BalancedAsymmetricLoss(class_weight_power=0.5,
                                      class_freq=[1, 4, 9, 16, 25])
    assert 'class_freq' not in weighted.state_dict()
    expected_w = torch.tensor([1.0, 0.5, 1 / 3, 0.25, 0.2],
                              dtype=torch.float64)
    torch.testing.assert_close(weighted.class_weight, expected_w)
    weighted.half()  # integer counts: the weights are not rounded
    torch.testing.assert_close(weighted.class_weight, expected_w)


def test_half_autocast_and_inputs_unchanged():
    z, y = clip_like_batch(5, seed=11)
    z = z.float()
    before = z.clone()
    loss_fn = BalancedAsymmetricLoss(label_smoothing=0.1)
    ref = loss_fn(z, y.long())
    assert torch.equal(z, before) and ref.dtype == torch.float32
    assert loss_fn(z.half(), y).dtype == torch.float32
    with torch.autocast('cpu', dtype=torch.bfloat16):
        auto = loss_fn(z, y)
    assert auto.dtype == torch.float32 and torch.equal(auto, ref)


def test_in_multilabel_linear_cls_head():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    opts = fragment('coco-lt_vitb16')
    freq, n_img = COUNTS['coco-lt']
    head = MODELS.build(
        dict(type='MultiLabelLinearClsHead', num_classes=80, in_channels=8,
             loss=dict(opts, class_stats=dict(class_freq=freq,
                                              num_images=n_img))))
    torch.manual_seed(0)
    feats = (torch.rand(4, 8), )
    head.fc.weight.data.abs_()  # a positive batch maximum
    labels = [[0, 5], [79], [1, 2, 3], [0]]
    samples = [DataSample().set_gt_label(lab) for lab in labels]
    target = torch.zeros(4, 80, dtype=torch.float64)
    for row, lab in enumerate(labels):
        target[row, lab] = 1
    loss = head.loss(feats, samples)['loss']
    logits = head(feats).detach().double()
    expected = 5.0 * official_bal(logits, target,
                                  official_weights(freq, n_img, 1.6), 9.8,
                                  0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
