# Copyright (c) mmltml contributors. All rights reserved.
"""DBLoss against an independent per-element float64 computation.

The reference below writes the official ResampleLoss behaviour (re-weighting,
NTR, focal; see the db_loss module docstring) literally, one (image, class)
element at a time with Python floats; the module computes with tensors. The
published weight ranges of the DB paper are checked on the COCO-LT / VOC-LT
training counts of the official split files (``ltml_counts.py``: literal here,
they are the independent, published expectation).
"""
import copy
import glob
import itertools
import math
import os.path as osp
import zlib

import pytest
import torch
from mmengine.config import Config

from mmltml.models.losses import DBLoss
from mmltml.models.losses.db_loss import ntr_init_bias, rebalance_weight

COCO_FREQ = [
    1128, 37, 276, 32, 9, 41, 18, 87, 20, 50, 11, 13, 8, 97, 19, 49, 70, 17,
    7, 10, 8, 6, 7, 7, 100, 39, 189, 31, 24, 11, 12, 8, 35, 10, 25, 21, 17,
    10, 20, 460, 84, 498, 126, 207, 173, 366, 39, 35, 44, 36, 29, 25, 14, 45,
    16, 73, 585, 153, 164, 44, 624, 25, 200, 137, 70, 89, 73, 127, 91, 175, 9,
    237, 119, 292, 87, 113, 15, 21, 6, 11
]
VOC_FREQ = [
    6, 34, 8, 14, 154, 17, 249, 29, 479, 4, 240, 48, 11, 20, 775, 100, 5, 82,
    7, 64
]
COCO_N, VOC_N = 1909, 1142

FREQ = [1, 3, 40, 200, 7]
TRAIN_NUM = 250
B, C = 4, len(FREQ)

LOSS_FRAGMENTS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'losses')
OPTIONS = ('reweight_func', 'focal', 'logit_reg', 'map_param', 'CB_loss',
           'weight_norm')


def fragment(name):
    """The DBLoss options of ``configs/_base_/losses/<name>.py``."""
    cfg = Config.fromfile(osp.join(LOSS_FRAGMENTS, f'{name}.py'))
    opts = cfg[name.replace('-', '_') + '_loss'].to_dict()
    assert opts.pop('type') == 'DBLoss'
    return opts


# ---------------------------------------------------------------------------
# Independent reference (Python floats, one element at a time)
# ---------------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _bce(s, y):
    """-y log(sigmoid(s)) - (1-y) log(1-sigmoid(s)), stable."""
    softplus_neg = max(-s, 0) + math.log1p(math.exp(-abs(s)))  # -log sig(s)
    return y * softplus_neg + (1 - y) * (softplus_neg + s)


def _effective(n, beta):
    return (1 - beta) / (1 - beta**n)


def ref_weights(y, freq, n_img, opts):
    rf = opts['reweight_func']
    if rf is None:
        return None
    rows = len(y)
    w = [[0.0] * len(freq) for _ in range(rows)]
    for k in range(rows):
        pos = [j for j in range(len(freq)) if y[k][j] == 1]
        for i, n_i in enumerate(freq):
            if rf == 'inv':
                w[k][i] = n_img / n_i
            elif rf == 'sqrt_inv':
                w[k][i] = math.sqrt(n_img / n_i)
            elif rf == 'class_static':
                mp = opts['map_param']
                w[k][i] = mp['alpha'] + _sigmoid(mp['beta'] *
                                                 (n_img / n_i - mp['gamma']))
            elif rf == 'rebalance':
                mp = opts['map_param']
                repeat = sum(1 / freq[j] for j in pos)
                r = (1 / n_i) / repeat
                w[k][i] = mp['alpha'] + _sigmoid(mp['beta'] *
                                                 (r - mp['gamma']))
            else:
                beta, mode = (opts['CB_loss']['CB_beta'],
                              opts['CB_loss']['CB_mode'])
                if mode == 'by_class':
                    w[k][i] = _effective(n_i, beta)
                elif mode == 'average_n':
                    w[k][i] = _effective(
                        sum(freq[j] for j in pos) / len(pos), beta)
                elif mode == 'average_w':
                    w[k][i] = sum(_effective(freq[j], beta)
                                  for j in pos) / len(pos)
                else:
                    w[k][i] = _effective(min(freq[j] for j in pos), beta)
    if opts['weight_norm'] == 'by_instance':
        w = [[v / max(row) for v in row] for row in w]
    elif opts['weight_norm'] == 'by_batch':
        top = max(max(row) for row in w)
        w = [[v / top for v in row] for row in w]
    return w


def ref_db_loss(z, y, freq, n_img, opts, focal_reduction='element'):
    """Mean over the B x C elements of the DB loss, float64."""
    w = ref_weights(y, freq, n_img, opts)
    reg, focal = opts['logit_reg'], opts['focal']
    lam = reg.get('neg_scale', 1.0)
    elems = []
    for k, i in itertools.product(range(len(z)), range(len(freq))):
        s, wk = z[k][i], 1.0 if w is None else w[k][i]
        if 'init_bias' in reg:
            s += -math.log(n_img / freq[i] - 1) * reg['init_bias'] / lam
        if 'pos_scale' in reg and y[k][i] == 1:
            pi = reg['pos_scale']
            s *= freq[i] / max(freq) if pi == 'freq_ratio' else pi
        if 'neg_scale' in reg and y[k][i] == 0:
            s, wk = lam * s, wk / lam
        elems.append((_bce(s, y[k][i]), wk))
    mean_bce = sum(b for b, _ in elems) / len(elems)
    total = 0.0
    for bce, wk in elems:
        loss = wk * bce
        if focal['focal']:
            pt = math.exp(-(bce if focal_reduction == 'element' else mean_bce))
            loss *= focal['balance_param'] * (1 - pt)**focal['gamma']
        total += loss
    return total / len(elems)


def _data(seed=0, rows=B, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, C, generator=gen, dtype=torch.float64) * scale
    y = (torch.rand(rows, C, generator=gen) < 0.4).to(torch.float64)
    y[torch.arange(rows), torch.randint(C, (rows, ), generator=gen)] = 1
    return z, y


# ---------------------------------------------------------------------------
# Every option combination
# ---------------------------------------------------------------------------
REWEIGHTS = [(None, 'average_w'), ('inv', 'average_w'),
             ('sqrt_inv', 'average_w'), ('rebalance', 'average_w'),
             ('CB', 'by_class'), ('CB', 'average_n'), ('CB', 'average_w'),
             ('CB', 'min_n'), ('class_static', 'average_w')]
FOCALS = [(False, 'element'), (True, 'element'), (True, 'batch')]
LOGIT_REGS = [{}, dict(neg_scale=3.0), dict(init_bias=0.2),
              dict(neg_scale=3.0, init_bias=0.2),
              dict(neg_scale=3.0, init_bias=0.2, pos_scale=4.0),
              dict(pos_scale='freq_ratio')]
NORMS = [None, 'by_instance', 'by_batch']


@pytest.mark.parametrize('reweight', REWEIGHTS)
@pytest.mark.parametrize('focal_cfg', FOCALS)
def test_matches_reference_every_option(reweight, focal_cfg):
    """All 486 combinations; logit_reg x weight_norm looped for speed."""
    reweight_func, cb_mode = reweight
    focal_on, focal_reduction = focal_cfg
    for logit_reg, weight_norm in itertools.product(LOGIT_REGS, NORMS):
        combo = (reweight, focal_cfg, logit_reg, weight_norm)
        opts = dict(
            reweight_func=reweight_func,
            focal=dict(focal=focal_on, gamma=1.5, balance_param=0.7),
            logit_reg=logit_reg,
            map_param=dict(alpha=0.3, beta=4.0, gamma=0.25),
            CB_loss=dict(CB_beta=0.8, CB_mode=cb_mode),
            weight_norm=weight_norm)
        loss_fn = DBLoss(class_freq=FREQ, train_num=TRAIN_NUM,
                         focal_reduction=focal_reduction,
                         **copy.deepcopy(opts))
        z, y = _data(seed=zlib.crc32(repr(combo).encode()))
        expected = ref_db_loss(z.tolist(), y.tolist(), FREQ, TRAIN_NUM, opts,
                               focal_reduction)
        got = loss_fn(z, y)
        assert got.dtype == torch.float64
        assert got.item() == pytest.approx(expected, rel=1e-10,
                                           abs=1e-12), combo
        # the float32 computation agrees to float32 accuracy
        got32 = loss_fn(z.float(), y)
        assert got32.dtype == torch.float32
        assert got32.item() == pytest.approx(expected, rel=1e-5), combo


def _loss_type(path):
    cfg = Config.fromfile(path)
    name = osp.splitext(osp.basename(path))[0]
    return cfg[name.replace('-', '_') + '_loss']['type']


FRAGMENT_NAMES = sorted(
    osp.splitext(osp.basename(path))[0]
    for path in glob.glob(osp.join(LOSS_FRAGMENTS, '*.py'))
    if _loss_type(path) == 'DBLoss')
# options that only the later papers' variants set (their defaults are the
# DB paper's: focal factor per element, mean over the elements)
VARIANT_OPTIONS = {
    'hpdval-db_coco-lt': ('focal_reduction', ),
    'hpdval-db_voc-lt': ('focal_reduction', ),
    'lt-gcn-db-focal_coco-lt': ('reduction', ),
    'lt-gcn-db-focal_voc-lt': ('reduction', ),
}


def test_fragments_set_every_option():
    assert len(FRAGMENT_NAMES) == 12
    for name in FRAGMENT_NAMES:
        expected = OPTIONS + VARIANT_OPTIONS.get(name, ())
        assert sorted(fragment(name)) == sorted(expected), name


@pytest.mark.parametrize('name', FRAGMENT_NAMES)
def test_fragments_match_reference(name):
    opts = fragment(name)
    loss_fn = DBLoss(class_freq=FREQ, train_num=TRAIN_NUM, **opts)
    z, y = _data(seed=3)
    expected = ref_db_loss(z.tolist(), y.tolist(), FREQ, TRAIN_NUM, opts,
                           opts.get('focal_reduction', 'element'))
    assert loss_fn(z, y).item() == pytest.approx(expected, rel=1e-10)


def test_fragment_values_are_the_papers():
    coco, voc = fragment('db-focal_coco-lt'), fragment('db-focal_voc-lt')
    assert coco['reweight_func'] == voc['reweight_func'] == 'rebalance'
    assert coco['focal'] == voc['focal'] == dict(
        focal=True, gamma=2, balance_param=2.0)
    assert coco['logit_reg'] == dict(neg_scale=2.0, init_bias=0.05)
    assert voc['logit_reg'] == dict(neg_scale=5.0, init_bias=0.05)
    assert coco['map_param'] == dict(alpha=0.1, beta=10.0, gamma=0.2)
    assert voc['map_param'] == dict(alpha=0.1, beta=10.0, gamma=0.3)
    assert coco['weight_norm'] is None and voc['weight_norm'] is None
    bce = fragment('bce')
    assert bce['reweight_func'] is None and not bce['focal']['focal']
    assert bce['logit_reg'] == {}
    assert fragment('rw-sqrt-inv')['reweight_func'] == 'sqrt_inv'
    assert fragment('cb-focal')['CB_loss'] == dict(
        CB_beta=0.9, CB_mode='average_w')
    for ds in ('coco', 'voc'):
        r_bce = fragment(f'r-bce-focal_{ds}-lt')
        db = fragment(f'db-focal_{ds}-lt')
        assert r_bce['logit_reg'] == {}
        assert dict(r_bce, logit_reg=db['logit_reg']) == db


def test_options_and_defaults():
    base = DBLoss()
    assert base.reweight_func is None and base.logit_reg == {}
    assert base.focal == dict(focal=True, gamma=2, balance_param=2.0)
    assert base.CB_loss == dict(CB_beta=0.9, CB_mode='average_w')
    assert base.map_param == dict(alpha=0.1, beta=10.0, gamma=0.2)
    base.focal['gamma'] = 5
    base.map_param['alpha'] = 0.5
    other = DBLoss()  # defaults are never shared
    assert other.focal['gamma'] == 2 and other.map_param['alpha'] == 0.1
    # a fragment with config-merged overrides, as ConfigDicts
    from mmpretrain.registry import MODELS
    cfg = Config(dict(loss=dict(
        type='DBLoss', class_freq=FREQ, **fragment('db-focal_voc-lt'))))
    cfg.merge_from_dict({'loss.focal.balance_param': 1.0,
                         'loss.logit_reg': None})
    built = MODELS.build(cfg.loss)
    assert built.focal == dict(focal=True, gamma=2, balance_param=1.0)
    assert built.logit_reg == {} and built.train_num is None
    assert built.map_param == dict(alpha=0.1, beta=10.0, gamma=0.3)
    # a dict option is given whole: no key is filled in or ignored
    with pytest.raises(ValueError, match=r"focal must have the keys .*"
                       r"missing \['balance_param', 'focal'\]"):
        DBLoss(focal=dict(gamma=1.0))
    with pytest.raises(ValueError, match=r"unknown \['alpha'\]"):
        DBLoss(focal=dict(focal=True, gamma=2, balance_param=2.0,
                          alpha=0.25))
    with pytest.raises(ValueError, match=r"map_param .* missing \['beta'"):
        DBLoss(map_param=dict(alpha=0.1, gamma=0.2))
    with pytest.raises(TypeError, match='CB_loss must be a dict'):
        DBLoss(CB_loss=None)
    with pytest.raises(ValueError, match=r"logit_reg .* unknown \['alpha'\]"):
        DBLoss(logit_reg=dict(alpha=0.25))
    with pytest.raises(ValueError, match='reweight_func'):
        DBLoss(reweight_func='rebal', class_freq=FREQ)
    with pytest.raises(ValueError, match='CB_mode'):
        DBLoss(reweight_func='CB', CB_loss=dict(CB_beta=0.9, CB_mode='avg'),
               class_freq=FREQ)
    with pytest.raises(ValueError, match='focal_reduction'):
        DBLoss(focal_reduction='mean')
    with pytest.raises(ValueError, match='use_sigmoid'):
        DBLoss(use_sigmoid=False)


# ---------------------------------------------------------------------------
# Gradients, reductions, mmpretrain conventions
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs', [
    dict(**fragment('db-focal_coco-lt')),
    dict(**fragment('db-focal_voc-lt'), focal_reduction='batch'),
    dict(fragment('cb-focal'), CB_loss=dict(CB_beta=0.9, CB_mode='min_n')),
    dict(reweight_func='inv', weight_norm='by_instance',
         logit_reg=dict(neg_scale=2.0)),
    dict(fragment('focal'), logit_reg=dict(neg_scale=2.0, init_bias=0.1)),
])
def test_gradcheck(kwargs):
    loss_fn = DBLoss(class_freq=FREQ, train_num=TRAIN_NUM, **kwargs)
    z, y = _data(seed=5)
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: loss_fn(s, y), (z, ))
    assert torch.autograd.gradcheck(
        lambda s: loss_fn(s, y, reduction_override='none'), (z, ),
        fast_mode=True)


def test_reductions_weight_and_avg_factor():
    loss_fn = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM)
    z, y = _data(seed=7)
    elem = loss_fn(z, y, reduction_override='none')
    assert elem.shape == (B, C)
    mean = loss_fn(z, y)
    assert torch.allclose(mean, elem.mean())
    assert torch.allclose(loss_fn(z, y, reduction_override='sum'), elem.sum())
    # avg_factor is ignored by default (official B x C mean) ...
    assert torch.equal(loss_fn(z, y, avg_factor=B), mean)
    # ... and honoured as mmpretrain's sum / avg_factor on request
    mm = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                train_num=TRAIN_NUM, use_avg_factor=True)
    assert torch.allclose(mm(z, y, avg_factor=B), elem.sum() / B)
    assert torch.allclose(mm(z, y), mean)
    sample_w = torch.tensor([1.0, 0.0, 2.0, 0.5], dtype=torch.float64)
    assert torch.allclose(
        loss_fn(z, y, weight=sample_w), (elem * sample_w[:, None]).mean())
    elem_w = torch.rand(B, C, dtype=torch.float64)
    assert torch.allclose(loss_fn(z, y, weight=elem_w), (elem * elem_w).mean())
    with pytest.raises(ValueError, match='weight'):
        loss_fn(z, y, weight=torch.ones(3))
    weighted = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                      train_num=TRAIN_NUM, loss_weight=0.3, reduction='sum')
    assert torch.allclose(weighted(z, y), 0.3 * elem.sum())


def test_batch_focal_is_lmpt_literal():
    """LMPT's port: BCE mean inside the focal factor and the weighted loss."""
    opts = fragment('db-focal_voc-lt')
    loss_fn = DBLoss(**fragment('db-focal_voc-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM, focal_reduction='batch')
    z, y = _data(seed=11)
    w = torch.tensor(ref_weights(y.tolist(), FREQ, TRAIN_NUM, opts),
                     dtype=torch.float64)
    lam, kappa = 5.0, 0.05
    freq = torch.tensor(FREQ, dtype=torch.float64)
    s = z + (-torch.log(TRAIN_NUM / freq - 1) * kappa / lam)
    s = s * (1 - y) * lam + s * y
    w = w / lam * (1 - y) + w * y
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    pt = torch.exp(-bce(s, y, reduction='mean'))
    expected = 2.0 * (1 - pt)**2 * bce(s, y, weight=w, reduction='mean')
    assert torch.allclose(loss_fn(z, y), expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# Deliberate fixes: no in-place, dtypes, autocast, buffers, statistics
# ---------------------------------------------------------------------------
def test_inputs_unchanged_and_leaf_logits():
    loss_fn = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM)
    z, y = _data(seed=13)
    z = z.float().requires_grad_(True)  # the official code fails on a leaf
    y_int = y.long()
    z_before, y_before = z.detach().clone(), y_int.clone()
    loss_fn(z, y_int).backward()
    assert torch.equal(z.detach(), z_before) and torch.equal(y_int, y_before)
    assert z.grad is not None and torch.isfinite(z.grad).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_inputs_give_fp32(dtype):
    loss_fn = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM)
    z, y = _data(seed=17)
    z_low = z.to(dtype)
    got = loss_fn(z_low, y.to(dtype))
    assert got.dtype == torch.float32
    assert torch.equal(got, loss_fn(z_low.float(), y.float()))


def test_autocast_bf16():
    loss_fn = DBLoss(**fragment('db-focal_voc-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM)
    z, y = _data(seed=19)
    z = z.float()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss_fn(z, y)
    assert got.dtype == torch.float32
    assert torch.equal(got, loss_fn(z, y))


def test_buffers_follow_the_module():
    loss_fn = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM)
    assert loss_fn.class_freq.dtype == torch.int64
    assert 'class_freq' not in loss_fn.state_dict()  # not in checkpoints
    loss_fn.half()  # integer counts are not rounded by a dtype cast
    assert torch.equal(loss_fn.class_freq, torch.tensor(FREQ))
    meta = loss_fn.to('meta')
    assert meta.class_freq.device.type == 'meta'
    z = torch.empty(B, C, device='meta')
    out = meta(z, torch.empty(B, C, device='meta'))
    assert out.device.type == 'meta' and out.dtype == torch.float32


@pytest.mark.parametrize('kwargs', [
    dict(**fragment('db-focal_coco-lt')),
    dict(reweight_func='rebalance'),
    dict(reweight_func='sqrt_inv'),
    dict(reweight_func='CB', CB_loss=dict(CB_beta=0.9, CB_mode='by_class')),
    dict(logit_reg=dict(init_bias=0.05)),
])
def test_zero_count_class_is_an_error(kwargs):
    with pytest.raises(ValueError, match=r'classes \[1\] have no training'):
        DBLoss(class_freq=[5, 0, 3], train_num=10, **kwargs)


def test_statistics_requirements():
    # plain BCE / focal need no statistics, and a zero count is harmless
    z, y = _data(seed=23)
    assert torch.isfinite(DBLoss(**fragment('bce'))(z, y))
    assert torch.isfinite(
        DBLoss(**fragment('focal'), class_freq=[0] * C)(z, y))
    with pytest.raises(ValueError, match='needs class statistics'):
        DBLoss(**fragment('db-focal_coco-lt'))
    with pytest.raises(ValueError, match='needs train_num'):
        DBLoss(reweight_func='inv', class_freq=FREQ)
    with pytest.raises(ValueError, match='occur in every training image'):
        DBLoss(logit_reg=dict(init_bias=0.05), class_freq=[10, 4],
               train_num=10)
    with pytest.raises(ValueError, match='below the largest'):
        DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ, train_num=100)
    with pytest.raises(ValueError, match='either'):
        DBLoss(class_freq=FREQ, class_stats=dict(class_freq=FREQ))
    loss_fn = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                     train_num=TRAIN_NUM)
    with pytest.raises(ValueError, match='classes'):
        loss_fn(torch.zeros(2, C + 1), torch.zeros(2, C + 1))


def test_class_stats_source_equals_direct_numbers():
    z, y = _data(seed=29)
    direct = DBLoss(**fragment('db-focal_voc-lt'), class_freq=FREQ,
                    train_num=TRAIN_NUM)
    via_stats = DBLoss(
        **fragment('db-focal_voc-lt'),
        class_stats=dict(class_freq=FREQ,
                         neg_class_freq=[TRAIN_NUM - n for n in FREQ]))
    assert via_stats.train_num == TRAIN_NUM
    assert torch.equal(direct(z, y), via_stats(z, y))
    with pytest.raises(ValueError, match='needs train_num'):
        DBLoss(reweight_func='sqrt_inv', class_stats=dict(class_freq=FREQ))


def test_images_without_positives_are_finite():
    """Documented rule: rebalance alpha + 1; per-image CB modes 1 - beta."""
    y = torch.zeros(2, C, dtype=torch.float64)
    y[1, 2] = 1
    freq = torch.tensor(FREQ, dtype=torch.float64)
    w = rebalance_weight(y, freq, alpha=0.1, beta=10.0, gamma=0.2)
    assert torch.allclose(w[0], torch.full((C, ), 1.1, dtype=torch.float64))
    z = torch.randn(2, C, dtype=torch.float64)
    for mode in ('average_n', 'average_w', 'min_n'):
        loss_fn = DBLoss(reweight_func='CB', class_freq=FREQ,
                         CB_loss=dict(CB_beta=0.9, CB_mode=mode),
                         focal=fragment('bce')['focal'])
        elem = loss_fn(z, y, reduction_override='none')
        assert torch.isfinite(elem).all()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            z[0], y[0], reduction='none')
        assert torch.allclose(elem[0], 0.1 * bce)
    assert torch.isfinite(
        DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
               train_num=TRAIN_NUM)(z, y))


# ---------------------------------------------------------------------------
# Published numbers on the real COCO-LT / VOC-LT counts
# ---------------------------------------------------------------------------
def test_ntr_bias_range_on_real_counts():
    for freq, n_img, lam, lo, hi in ((COCO_FREQ, COCO_N, 2.0, -0.144, 0.009),
                                     (VOC_FREQ, VOC_N, 5.0, -0.057, 0.007)):
        bias = ntr_init_bias(torch.tensor(freq, dtype=torch.float64), n_img,
                             0.05, lam)
        assert bias.min().item() == pytest.approx(lo, abs=1e-3)
        assert bias.max().item() == pytest.approx(hi, abs=1e-3)
        # positive only for person, the one class with p > 0.5
        assert torch.nonzero(bias > 0).flatten().tolist() == [
            freq.index(max(freq))
        ]


def test_weight_ranges_on_real_counts():
    y = torch.zeros(1, len(COCO_FREQ))
    y[0, 0] = 1
    for reweight, extra, lo, hi in (
            ('sqrt_inv', {}, 1.30, 17.84),  # ref-dbloss 1.6: 1.3 to 17.8
            ('CB', dict(CB_loss=dict(CB_beta=0.9, CB_mode='by_class')), 0.1,
             0.2134)):  # ref-dbloss 1.3: 0.1 to 0.21 on COCO
        loss_fn = DBLoss(reweight_func=reweight, class_freq=COCO_FREQ,
                         train_num=COCO_N, focal=fragment('bce')['focal'],
                         **extra)
        elem = loss_fn(torch.zeros(1, 80), y, reduction_override='none')
        w = elem / math.log(2)  # BCE at logit 0 is log 2 for every label
        assert w.min().item() == pytest.approx(lo, abs=6e-3)
        assert w.max().item() == pytest.approx(hi, abs=6e-3)
    # a single-label image of class i has r_i = 1: weight alpha + sig(8)
    w = rebalance_weight(y.double(), torch.tensor(COCO_FREQ).double(), 0.1,
                         10.0, 0.2)
    assert w[0, 0].item() == pytest.approx(0.1 + _sigmoid(8.0), rel=1e-12)
    assert w[0, 0].item() == pytest.approx(1.10, abs=1e-3)


# ---------------------------------------------------------------------------
# mmpretrain integration
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('use_avg_factor', [False, True])
def test_in_multilabel_linear_cls_head(use_avg_factor):
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    loss_cfg = dict(type='DBLoss', **fragment('db-focal_coco-lt'),
                    class_freq=FREQ, train_num=TRAIN_NUM,
                    use_avg_factor=use_avg_factor)
    head = MODELS.build(
        dict(type='MultiLabelLinearClsHead', num_classes=C, in_channels=8,
             loss=loss_cfg))
    assert isinstance(head.loss_module, DBLoss)
    torch.manual_seed(0)
    feats = (torch.randn(B, 8), )
    labels = [[0, 3], [1], [2, 3, 4], [4]]
    samples = [DataSample().set_gt_label(lab) for lab in labels]
    target = torch.zeros(B, C)
    for k, lab in enumerate(labels):
        target[k, lab] = 1
    got = head.loss(feats, samples)['loss']
    logits = head(feats)
    standalone = DBLoss(**fragment('db-focal_coco-lt'), class_freq=FREQ,
                        train_num=TRAIN_NUM)(logits, target)
    expected = ref_db_loss(logits.double().tolist(), target.tolist(), FREQ,
                           TRAIN_NUM, fragment('db-focal_coco-lt'))
    assert standalone.item() == pytest.approx(expected, rel=1e-5)
    # the head passes avg_factor=B: ignored by default (B x C mean), sum / B
    # (C times the mean) with use_avg_factor=True
    scale = C if use_avg_factor else 1
    assert torch.allclose(got, scale * standalone, rtol=1e-6)
