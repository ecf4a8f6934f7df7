# Copyright (c) mmltml contributors. All rights reserved.
"""DRLoss against the DR formula written out independently.

The reference is the double sum of ref-drloss.md §2.1 in numpy float64,
L_j = log(1 + sum_p sum_n exp(g1 (s_n - s_p)) + sum_n exp(g2 s_n)), one class
at a time, and its gradient in closed form (§2.2); for large logits the same
formula in 60-digit arithmetic (mpmath). Golden values: §2.5.
"""
import os.path as osp

import mpmath
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmltml.models.losses import DBLoss, DRLoss

FRAGMENTS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'losses')

# ref-drloss §2.5
GOLD_Y = [[1, 0, 0, 0, 0], [0, 0, 1, 0, 1], [0, 1, 0, 0, 0], [1, 0, 1, 0, 0]]
GOLD_S = [[2, -1, .5, -2, 0], [-1, 1, -.5, .3, 2], [0, 0, 0, 0, 0],
          [1.5, -.5, 1, -1, .2]]


def ref_class_losses(s, y, g1, g2):
    """(L_1 ... L_C) written out as in the paper / code, float64."""
    s, y = np.asarray(s, np.float64), np.asarray(y)
    out = []
    for j in range(s.shape[1]):
        pos, neg = s[y[:, j] == 1, j], s[y[:, j] == 0, j]
        pairs = sum(np.exp(g1 * (n - p)) for p in pos for n in neg)
        out.append(np.log(1 + pairs + np.exp(g2 * neg).sum()))
    return np.array(out)


def ref_grad(s, y, g1, g2):
    """d mean_j L_j / d s, closed form (ref-drloss §2.2)."""
    s, y = np.asarray(s, np.float64), np.asarray(y)
    grad = np.zeros_like(s)
    num_classes = s.shape[1]
    for j in range(num_classes):
        pos, neg = y[:, j] == 1, y[:, j] == 0
        sum_pos = np.exp(-g1 * s[pos, j]).sum()
        sum_neg = np.exp(g1 * s[neg, j]).sum()
        z = 1 + sum_pos * sum_neg + np.exp(g2 * s[neg, j]).sum()
        grad[neg, j] = (g1 * np.exp(g1 * s[neg, j]) * sum_pos +
                        g2 * np.exp(g2 * s[neg, j])) / z
        grad[pos, j] = -g1 * np.exp(-g1 * s[pos, j]) * sum_neg / z
    return grad / num_classes


def fragment(name):
    cfg = Config.fromfile(osp.join(FRAGMENTS, f'{name}.py'))
    return cfg[name.replace('-', '_') + '_loss'].to_dict()


def _batch(seed, rows=8, cols=6, scale=1.0):
    rng = np.random.default_rng(seed)
    s = rng.normal(0, scale, (rows, cols))
    y = (rng.random((rows, cols)) < 0.3).astype(np.float64)
    y[:, 0] = 0  # a class without positives in the batch
    y[:, 1] = 1  # a class without negatives
    return s, y


def test_golden_values():
    s = torch.tensor(GOLD_S, dtype=torch.float64)
    y = torch.tensor(GOLD_Y, dtype=torch.float64)
    per_class = DRLoss(5, 7, reduction='none')(s, y)
    np.testing.assert_allclose(
        per_class.numpy(),
        [0.693904, 7.127827, 5.277093, 2.319155, 1.953795], atol=1e-6)
    assert DRLoss(5, 7)(s, y).item() == pytest.approx(3.474355, abs=1e-6)
    assert DRLoss(5, 10)(s, y).item() == pytest.approx(4.375208, abs=1e-6)
    assert DRLoss(5, 7)(s / 10, y).item() == pytest.approx(1.684173,
                                                           abs=1e-6)


@pytest.mark.parametrize('gammas', [(5.0, 7.0), (5.0, 10.0), (2.0, 0.5)])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_forward_and_gradient_equal_the_formula(gammas, seed):
    g1, g2 = gammas
    s, y = _batch(seed)
    logits = torch.tensor(s, requires_grad=True)
    loss_fn = DRLoss(g1, g2)
    loss = loss_fn(logits, torch.tensor(y))
    loss.backward()
    expected = ref_class_losses(s, y, g1, g2)
    assert loss.item() == pytest.approx(expected.mean(), rel=1e-12)
    np.testing.assert_allclose(
        loss_fn(logits, torch.tensor(y), reduction_override='none')
        .detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(logits.grad.numpy(), ref_grad(s, y, g1, g2),
                               rtol=1e-10, atol=1e-14)
    # the class without negatives contributes log(1) = 0, no gradient
    assert expected[1] == 0 and np.all(logits.grad.numpy()[:, 1] == 0)


def test_float32_matches_and_gradcheck():
    s, y = _batch(3)
    expected = ref_class_losses(s, y, 5.0, 10.0).mean()
    got = DRLoss(5, 10)(torch.tensor(s, dtype=torch.float32),
                        torch.tensor(y))
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(expected, rel=1e-5)
    logits = torch.tensor(s, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: DRLoss(5, 10)(x, torch.tensor(y)), (logits, ))


def _mp_reference(s, y, g1, g2):
    """The formula in 60-digit arithmetic (no overflow)."""
    mpmath.mp.dps = 60
    total = mpmath.mpf(0)
    for j in range(len(s[0])):
        pos = [s[i][j] for i in range(len(s)) if y[i][j] == 1]
        neg = [s[i][j] for i in range(len(s)) if y[i][j] == 0]
        inner = 1 + sum(mpmath.exp(g1 * (n - p)) for p in pos for n in neg)
        inner += sum(mpmath.exp(g2 * n) for n in neg)
        total += mpmath.log(inner)
    return float(total / len(s[0]))


def test_finite_for_logits_of_100():
    """The official exp(logsumexp) overflows above 8.8 at gamma2 = 10; the
    log-sum-exp form stays finite and exact, in float32 too."""
    s, y = _batch(4)
    s = np.sign(s) * 100.0
    s[0, :] = -100.0
    for dtype in (torch.float32, torch.float64):
        logits = torch.tensor(s, dtype=dtype, requires_grad=True)
        loss = DRLoss(5, 10)(logits, torch.tensor(y))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
        assert loss.item() == pytest.approx(
            _mp_reference(s.tolist(), y.tolist(), 5, 10), rel=1e-6)
    # the official form overflows here in float32
    neg = torch.tensor(s, dtype=torch.float32)[torch.tensor(y) == 0]
    assert torch.isinf(torch.exp(torch.logsumexp(10 * neg, dim=0)))


def test_fragments_are_the_papers_gammas():
    assert fragment('dr_coco-lt') == dict(type='DRLoss', gamma1=5.0,
                                          gamma2=10.0)
    assert fragment('dr_voc-lt') == dict(type='DRLoss', gamma1=5.0,
                                         gamma2=7.0)


def test_dr_plus_bce_option():
    s, y = _batch(5)
    logits, target = torch.tensor(s), torch.tensor(y)
    bce_cfg = fragment('bce')
    combined = DRLoss(5, 7, bce_loss=bce_cfg, bce_weight=0.5)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    expected = ref_class_losses(s, y, 5, 7).mean() + 0.5 * bce.item()
    assert combined(logits, target).item() == pytest.approx(expected,
                                                            rel=1e-12)
    # a DB-Focal fragment as the BCE-based part (the official comment)
    db_cfg = dict(fragment('db-focal_voc-lt'),
                  class_stats=dict(class_freq=[3] * 6, num_images=10))
    combined = DRLoss(5, 7, bce_loss=db_cfg)
    db = DBLoss(**{k: v for k, v in db_cfg.items() if k != 'type'})
    assert torch.allclose(combined(logits, target),
                          DRLoss(5, 7)(logits, target) + db(logits, target))
    with pytest.raises(ValueError, match="reduction='none'"):
        DRLoss(bce_loss=bce_cfg, reduction='none')


def test_reductions_and_contract():
    s, y = _batch(6)
    logits, target = torch.tensor(s), torch.tensor(y)
    per_class = ref_class_losses(s, y, 5, 7)
    loss_fn = DRLoss(5, 7)
    assert loss_fn(logits, target, reduction_override='sum').item() == \
        pytest.approx(per_class.sum(), rel=1e-12)
    # mmpretrain heads pass avg_factor=B: ignored (mean over classes)
    assert torch.equal(loss_fn(logits, target, avg_factor=8),
                       loss_fn(logits, target))
    weighted = DRLoss(5, 7, loss_weight=0.3)
    assert weighted(logits, target).item() == pytest.approx(
        0.3 * per_class.mean(), rel=1e-12)
    with pytest.raises(ValueError, match='no weight'):
        loss_fn(logits, target, weight=torch.ones(8))
    with pytest.raises(ValueError, match='binary labels'):
        loss_fn(logits, target * 0.9)
    with pytest.raises(ValueError, match=r'\(B, C\)'):
        loss_fn(logits, target[:, :3])
    with pytest.raises(ValueError, match='gamma1 > 0'):
        DRLoss(gamma1=0)


def test_half_autocast_and_inputs_unchanged():
    s, y = _batch(7)
    logits = torch.tensor(s, dtype=torch.float32)
    target = torch.tensor(y).long()
    before = logits.clone()
    ref = DRLoss(5, 10)(logits, target)
    assert torch.equal(logits, before)
    half = DRLoss(5, 10)(logits.half(), target)
    assert half.dtype == torch.float32
    with torch.autocast('cpu', dtype=torch.bfloat16):
        auto = DRLoss(5, 10)(logits, target)
    assert auto.dtype == torch.float32 and torch.equal(auto, ref)


def test_in_multilabel_linear_cls_head():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    head = MODELS.build(
        dict(type='MultiLabelLinearClsHead', num_classes=5, in_channels=8,
             loss=fragment('dr_voc-lt')))
    torch.manual_seed(0)
    feats = (torch.randn(4, 8), )
    # the label sets of GOLD_Y
    samples = [DataSample().set_gt_label(lab)
               for lab in ([0], [2, 4], [1], [0, 2])]
    loss = head.loss(feats, samples)['loss']
    logits = head(feats).detach().double().numpy()
    assert loss.item() == pytest.approx(
        ref_class_losses(logits, GOLD_Y, 5, 7).mean(), rel=1e-5)
