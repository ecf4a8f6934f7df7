# Copyright (c) mmltml contributors. All rights reserved.
"""The later papers' DB variants, as options of DBLoss, against
transcriptions of their official computations (float64 tensors, in the
official order of operations):

* HP-DVAL's "DB*" (ref-hpdval.md §2.1, ``src/loss_functions/dbl.py`` with
  ``coco_runner.py:239,248``): bias added, positives x pi, negatives x
  lambda, BCE reduced *inside* (one focal factor per batch);
* LT-GCN's modified DB-Focal (ref-labelgcn.md §4.2, ``dbl.py:343-424``):
  static class weight 0.1 + sigmoid(0.01 N / n_i), logsigmoid BCE,
  (1 - p_t)^2 per element, sum over the elements (fixed here: the mean).

The per-class counts are the official training splits' (``ltml_counts``).
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmltml.models.losses import DBLoss
from tests.test_datasets.ltml_counts import COCO_TRAIN, VOC_TRAIN

FRAGMENTS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'losses')
COUNTS = {'coco': (COCO_TRAIN, 1909), 'voc': (VOC_TRAIN, 1142)}
# ref-hpdval §2.1 (COCO / VOC): lambda, mu, pi
HPDVAL = {'coco': (2.0, 0.2, 5.0), 'voc': (5.0, 0.3, 10.0)}
LTGCN_LAMBDA = {'coco': 2.0, 'voc': 5.0}


def fragment(name: str) -> dict:
    """The DBLoss options of ``configs/_base_/losses/<name>.py``."""
    cfg = Config.fromfile(osp.join(FRAGMENTS, f'{name}.py'))
    opts = cfg[name.replace('-', '_') + '_loss'].to_dict()
    assert opts.pop('type') == 'DBLoss'
    return opts


def _batch(num_classes: int, seed: int, rows: int = 6):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, num_classes, generator=gen, dtype=torch.float64)
    y = (torch.rand(rows, num_classes, generator=gen) < 0.1).double()
    y[torch.arange(rows), torch.randint(num_classes, (rows, ),
                                        generator=gen)] = 1
    return z, y


def hpdval_official(z, y, freq, n_img, lam, mu, pi):
    """ResampleLoss of hp_dval with pi-scaled positives, as executed."""
    freq = torch.tensor(freq, dtype=torch.float64)
    kappa, alpha, beta = 0.05, 0.1, 10.0
    logits = z.clone()
    logits += -torch.log(n_img / freq - 1) * kappa / lam  # in place
    freq_inv = 1 / freq
    repeat_rate = (y * freq_inv).sum(1, keepdim=True)
    weight = torch.sigmoid(beta * (freq_inv / repeat_rate - mu)) + alpha
    logits = logits * (1 - y) * lam + logits * y * pi
    weight = weight / lam * (1 - y) + weight * y
    # binary_cross_entropy with the reduction hard-coded to 'mean'
    logpt = -F.binary_cross_entropy_with_logits(logits, y, reduction='mean')
    pt = torch.exp(logpt)
    loss = F.binary_cross_entropy_with_logits(logits, y, weight=weight,
                                              reduction='mean')
    return 2.0 * (1 - pt)**2 * loss


def ltgcn_official(z, y, freq, n_img, lam):
    """LT-GCN's ResampleLoss forward (its focal branch), summed."""
    freq = torch.tensor(freq, dtype=torch.float64)
    kappa = 0.05
    logits = z.clone()
    logits += -torch.log(n_img / freq - 1) * kappa / lam
    weight = torch.sigmoid(0.01 * (1 / (freq / n_img))) + 0.1
    weight = weight.expand_as(y)
    logits = logits * (1 - y) * lam + logits * y
    weight = weight / lam * (1 - y) + weight * y
    pred = torch.sigmoid(logits)
    pt = (1 - pred) * y + pred * (1 - y)
    loss = -(y * F.logsigmoid(logits) + (1 - y) * F.logsigmoid(-logits))
    loss = 2.0 * (pt**2 * loss)
    return (loss * weight).sum()


@pytest.mark.parametrize('dataset', ['coco', 'voc'])
def test_hpdval_db_star_equals_official(dataset):
    freq, n_img = COUNTS[dataset]
    loss_fn = DBLoss(**fragment(f'hpdval-db_{dataset}-lt'),
                     class_stats=dict(class_freq=freq, num_images=n_img))
    for seed in range(3):
        z, y = _batch(len(freq), seed)
        z.requires_grad_(True)
        got = loss_fn(z, y)
        (grad, ) = torch.autograd.grad(got, z)
        ref_z = z.detach().clone().requires_grad_(True)
        expected = hpdval_official(ref_z, y, freq, n_img, *HPDVAL[dataset])
        (ref_grad, ) = torch.autograd.grad(expected, ref_z)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-15)


def test_hpdval_fragment_values():
    for dataset, (lam, mu, pi) in HPDVAL.items():
        opts = fragment(f'hpdval-db_{dataset}-lt')
        assert opts['logit_reg'] == dict(neg_scale=lam, init_bias=0.05,
                                         pos_scale=pi)
        assert opts['map_param'] == dict(alpha=0.1, beta=10.0, gamma=mu)
        assert opts['reweight_func'] == 'rebalance'
        assert opts['focal_reduction'] == 'batch'
        # everything else is the DB paper's DB-Focal of the dataset
        db = fragment(f'db-focal_{dataset}-lt')
        assert {k: v for k, v in opts.items()
                if k not in ('logit_reg', 'focal_reduction')} == {
                    k: v for k, v in db.items() if k != 'logit_reg'}


def test_pos_scale_one_is_the_db_loss():
    """pi = 1 (the dual / test runners) is DB: bit-identical values."""
    freq, n_img = COUNTS['voc']
    opts = fragment('db-focal_voc-lt')
    plain = DBLoss(**opts, class_freq=freq, train_num=n_img)
    opts['logit_reg'] = dict(opts['logit_reg'], pos_scale=1.0)
    one = DBLoss(**opts, class_freq=freq, train_num=n_img)
    z, y = _batch(20, seed=4)
    assert torch.equal(plain(z, y), one(z, y))


def test_pos_scale_freq_ratio_is_the_papers_eq14():
    """Paper Eq. 14-15: positive logits times n_i / max_j n_j."""
    freq, n_img = COUNTS['coco']
    z, y = _batch(80, seed=5)
    ratio = torch.tensor(freq, dtype=torch.float64) / max(freq)
    paper = DBLoss(focal=dict(focal=False, gamma=2, balance_param=2.0),
                   logit_reg=dict(pos_scale='freq_ratio'), class_freq=freq)
    expected = F.binary_cross_entropy_with_logits(z * (y * ratio + 1 - y), y)
    torch.testing.assert_close(paper(z, y), expected, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match='needs class statistics'):
        DBLoss(logit_reg=dict(pos_scale='freq_ratio'))
    with pytest.raises(ValueError, match='pos_scale'):
        DBLoss(logit_reg=dict(pos_scale=0.0))
    with pytest.raises(ValueError, match='pos_scale'):
        DBLoss(logit_reg=dict(pos_scale='per_class'))


@pytest.mark.parametrize('dataset', ['coco', 'voc'])
def test_lt_gcn_modified_db_equals_official_mean(dataset):
    """The fragment is the official loss divided by B x C (the sum -> mean
    fix); reduction='sum' is the official value itself."""
    freq, n_img = COUNTS[dataset]
    stats = dict(class_freq=freq, num_images=n_img)
    opts = fragment(f'lt-gcn-db-focal_{dataset}-lt')
    assert opts['reduction'] == 'mean'
    mean_fn = DBLoss(**opts, class_stats=stats)
    sum_fn = DBLoss(**dict(opts, reduction='sum'), class_stats=stats)
    z, y = _batch(len(freq), seed=6)
    z.requires_grad_(True)
    expected = ltgcn_official(z, y, freq, n_img, LTGCN_LAMBDA[dataset])
    torch.testing.assert_close(sum_fn(z, y), expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(mean_fn(z, y), expected / z.numel(),
                               rtol=1e-12, atol=0)
    (grad, ) = torch.autograd.grad(sum_fn(z, y), z)
    (ref_grad, ) = torch.autograd.grad(expected, z)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-15)


def test_class_static_weight_range_on_coco():
    """ref-labelgcn §4.2: w_c in [0.60, 1.06] on COCO-LT."""
    freq, n_img = COUNTS['coco']
    loss_fn = DBLoss(reweight_func='class_static',
                     focal=dict(focal=False, gamma=2, balance_param=2.0),
                     map_param=dict(alpha=0.1, beta=0.01, gamma=0.0),
                     class_freq=freq, train_num=n_img)
    y = torch.zeros(1, 80)
    elem = loss_fn(torch.zeros(1, 80), y, reduction_override='none')
    weight = elem / torch.log(torch.tensor(2.0))
    assert weight.min().item() == pytest.approx(0.60, abs=0.005)
    assert weight.max().item() == pytest.approx(1.06, abs=0.005)
    with pytest.raises(ValueError, match='needs train_num'):
        DBLoss(reweight_func='class_static', class_freq=freq)
