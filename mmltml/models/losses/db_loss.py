# Copyright (c) mmltml contributors. All rights reserved.
r"""Distribution-balanced loss family (Wu et al., ECCV 2020).

A re-implementation of the official ``ResampleLoss`` (with
``use_sigmoid=True``) written from its documented behaviour
(wutong16/DistributionBalancedLoss, ``mllt/models/losses/resample_loss.py``),
with the same option names so that DB configs port directly. Notation:
logits :math:`z \in R^{B\times C}`, labels :math:`y \in \{0,1\}^{B\times C}`,
:math:`n_i` the number of training images containing class :math:`i`,
:math:`N` the number of training images, :math:`p_i = n_i / N`.

Re-weighting ``reweight_func`` (weights :math:`w_{ki}`):

- ``'rebalance'`` (the paper's re-balanced weighting, R-BCE): repeat rate
  :math:`R^k = \sum_j y_{kj} / n_j` (:math:`\propto P^I(x^k)`),
  :math:`r_{ki} = (1/n_i) / R^k` for *every* class (positives and negatives),
  smoothed as :math:`\hat r_{ki} = \alpha + \sigma(\beta (r_{ki} - \mu))`
  (``map_param=dict(alpha, beta, gamma=mu)``);
- ``'class_static'`` (LT-GCN's modified DB-Focal, ref-labelgcn §4.2): the
  smoothing map applied to the class-wise inverse proportion instead of the
  sample-wise ratio, :math:`w_i = \alpha + \sigma(\beta (N/n_i - \mu))`,
  static per class and the same for positives and negatives (LT-GCN:
  :math:`\alpha = 0.1`, :math:`\beta = 0.01`, :math:`\mu = 0`);
- ``'inv'`` / ``'sqrt_inv'``: :math:`w_i = N / n_i` or :math:`\sqrt{N/n_i}`,
  for both the positive and the negative term of class :math:`i`;
- ``'CB'`` (class-balanced, Cui et al. 2019), :math:`e(n) = (1-\beta_{CB}) /
  (1 - \beta_{CB}^n)`: ``'by_class'`` :math:`w_i = e(n_i)`; per image
  ``'average_n'`` :math:`e(\mathrm{mean}_{y_{kj}=1} n_j)`, ``'average_w'``
  :math:`\mathrm{mean}_{y_{kj}=1} e(n_j)`, ``'min_n'``
  :math:`e(\min_{y_{kj}=1} n_j)`; not normalised to sum to C (as the code);
- ``weight_norm``: ``'by_instance'`` divides by each row's maximum,
  ``'by_batch'`` by the batch maximum (no effect without re-weighting).

Negative-tolerant regularisation ``logit_reg=dict(neg_scale=lambda,
init_bias=kappa)`` (NTR), in the code's convention:
:math:`b_i = -(\kappa/\lambda)\log(N/n_i - 1) = (\kappa/\lambda)
\mathrm{logit}(p_i)`, :math:`s = z + b` (only if ``init_bias`` is a key),
then (only if ``neg_scale`` is a key) :math:`s' = y s + (1-y) \lambda s` and
:math:`w' = y w + (1-y) w / \lambda`. The bias therefore enters negatives as
:math:`\kappa\,\mathrm{logit}(p_i)`. An empty dict disables NTR.

Positive scale ``logit_reg=dict(..., pos_scale=pi)`` (HP-DVAL's "DB*", IEEE
TIP 2025, ref-hpdval §2.1): :math:`s' = y \pi s + (1-y) \lambda s` with the
weights unchanged. The released code uses a constant :math:`\pi` (5
COCO-LT, 10 VOC-LT) with ``focal_reduction='batch'``;
``pos_scale='freq_ratio'`` is the paper's Eq. 14-15 instead, a per-class
:math:`\pi_i = n_i / \max_j n_j` (not in the released code).

Loss per element, :math:`\ell = \mathrm{BCE}(s', y)`:

- focal off: :math:`w' \ell`;
- focal on, ``focal_reduction='element'`` (DB-Focal):
  :math:`\mathrm{bp}\,(1 - e^{-\ell})^{\gamma}\, w' \ell`;
- focal on, ``focal_reduction='batch'`` (LMPT's port, whose inner BCE is
  already averaged): :math:`\mathrm{bp}\,(1 - e^{-\bar\ell})^{\gamma}\, w'
  \ell` with :math:`\bar\ell` the unweighted mean of :math:`\ell` over the
  B x C elements; its mean over elements is LMPT's loss.

The modulating factor is not detached (as in the official code). The
parts are named as in the ECCV 2020 paper; the formulas follow the official
code, which is authoritative where the paper differs (e.g. the sign and the
1/lambda of the prior bias).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmltml.structures.class_dependent import ClassDependent, ClassField
from .utils import (autocast_off, check_reduction, class_stats_fields,
                    compute_dtype, reduce_elementwise,
                    require_positive_counts, resolve_class_stats)

REWEIGHT_FUNCS = (None, 'inv', 'sqrt_inv', 'rebalance', 'CB',
                  'class_static')
CB_MODES = ('by_class', 'average_n', 'average_w', 'min_n')
WEIGHT_NORMS = (None, 'by_instance', 'by_batch')
FOCAL_REDUCTIONS = ('element', 'batch')


# ---------------------------------------------------------------------------
# Functional form
# ---------------------------------------------------------------------------
def ntr_init_bias(class_freq: torch.Tensor, train_num: Union[int, float],
                  init_bias: float, neg_scale: float = 1.0) -> torch.Tensor:
    r""":math:`b_i = -(\kappa/\lambda)\log(N/n_i - 1)` (NTR class prior)."""
    return -torch.log(train_num / class_freq - 1) * init_bias / neg_scale


def rebalance_weight(label: torch.Tensor, class_freq: torch.Tensor,
                     alpha: float, beta: float, gamma: float) -> torch.Tensor:
    r""":math:`\alpha + \sigma(\beta((1/n_i)/\sum_j y_{kj}/n_j - \mu))`.

    An image without positive labels has :math:`R^k = 0`, i.e.
    :math:`r = +\infty` and weight :math:`\alpha + 1` on every class (the
    official code's value for :math:`\beta > 0`).
    """
    freq_inv = 1.0 / class_freq
    repeat_rate = (label * freq_inv).sum(dim=1, keepdim=True)
    has_pos = repeat_rate > 0
    ratio = freq_inv / torch.where(has_pos, repeat_rate,
                                   torch.ones_like(repeat_rate))
    weight = alpha + torch.sigmoid(beta * (ratio - gamma))
    return torch.where(has_pos, weight, torch.full_like(weight, alpha + 1))


def effective_number_weight(n: torch.Tensor, beta: float) -> torch.Tensor:
    r""":math:`e(n) = (1 - \beta) / (1 - \beta^n)`; :math:`e(\infty)=1-\beta`.
    """
    return (1 - beta) / (1 - torch.pow(beta, n))


def cb_weight(label: torch.Tensor, class_freq: torch.Tensor, beta: float,
              mode: str) -> torch.Tensor:
    """Class-balanced weight, shape (C,) for 'by_class' else (B, 1).

    The per-image modes of an image without positive labels use
    :math:`e(\\infty) = 1 - \\beta` (the official code gives NaN for the
    average modes and about ``1 - beta`` for 'min_n').
    """
    if mode == 'by_class':
        return effective_number_weight(class_freq, beta)
    num_pos = label.sum(dim=1, keepdim=True)
    has_pos = num_pos > 0
    safe_num = torch.where(has_pos, num_pos, torch.ones_like(num_pos))
    inf = torch.full_like(num_pos, float('inf'))
    if mode == 'average_n':
        avg_n = (label * class_freq).sum(dim=1, keepdim=True) / safe_num
        return effective_number_weight(torch.where(has_pos, avg_n, inf), beta)
    if mode == 'average_w':
        per_class = effective_number_weight(class_freq, beta)
        avg_w = (label * per_class).sum(dim=1, keepdim=True) / safe_num
        return torch.where(has_pos, avg_w, torch.full_like(avg_w, 1 - beta))
    if mode == 'min_n':
        masked = torch.where(label > 0, class_freq.expand_as(label),
                             torch.full_like(label, float('inf')))
        return effective_number_weight(masked.amin(dim=1, keepdim=True), beta)
    raise ValueError(f'CB_mode must be one of {CB_MODES}, got {mode!r}')


def resample_weight(label: torch.Tensor,
                    reweight_func: Optional[str],
                    class_freq: Optional[torch.Tensor] = None,
                    train_num: Optional[int] = None,
                    map_param: Optional[dict] = None,
                    CB_loss: Optional[dict] = None,
                    weight_norm: Optional[str] = None
                    ) -> Optional[torch.Tensor]:
    """The ``reweight_func`` weight expanded to (B, C), or None."""
    if reweight_func is None:
        return None
    if reweight_func in ('inv', 'sqrt_inv'):
        weight = train_num / class_freq
        if reweight_func == 'sqrt_inv':
            weight = torch.sqrt(weight)
    elif reweight_func == 'class_static':
        weight = map_param['alpha'] + torch.sigmoid(
            map_param['beta'] * (train_num / class_freq - map_param['gamma']))
    elif reweight_func == 'rebalance':
        weight = rebalance_weight(label, class_freq, map_param['alpha'],
                                  map_param['beta'], map_param['gamma'])
    elif reweight_func == 'CB':
        weight = cb_weight(label, class_freq, CB_loss['CB_beta'],
                           CB_loss['CB_mode'])
    else:
        raise ValueError(f'reweight_func must be one of {REWEIGHT_FUNCS}, '
                         f'got {reweight_func!r}')
    weight = weight.expand_as(label)
    if weight_norm == 'by_instance':
        weight = weight / weight.amax(dim=1, keepdim=True)
    elif weight_norm == 'by_batch':
        weight = weight / weight.max()
    return weight


def negative_tolerant_regularization(
        cls_score: torch.Tensor, label: torch.Tensor,
        weight: Optional[torch.Tensor], logit_reg: dict,
        init_bias: Optional[torch.Tensor],
        pos_scale: Optional[Union[float, torch.Tensor]] = None
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """NTR: add the class prior ``init_bias``, scale the positives by
    ``pos_scale`` (HP-DVAL's DB*; a number or a (C,) tensor) and the
    negatives by ``neg_scale``.

    Without a re-weighting, the negatives' weight 1/lambda is applied to
    unit weights (the official code raises a TypeError there). Returns new
    tensors (no in-place edit); ``weight`` stays None if nothing scales it.
    """
    if 'init_bias' in logit_reg:
        cls_score = cls_score + init_bias
    if pos_scale is not None:
        cls_score = cls_score * label * pos_scale + cls_score * (1 - label)
    if 'neg_scale' in logit_reg:
        scale = logit_reg['neg_scale']
        if weight is None:
            weight = torch.ones_like(cls_score)
        cls_score = cls_score * (1 - label) * scale + cls_score * label
        weight = weight / scale * (1 - label) + weight * label
    return cls_score, weight


def db_elementwise_loss(cls_score: torch.Tensor, label: torch.Tensor,
                        weight: Optional[torch.Tensor], focal: dict,
                        focal_reduction: str = 'element') -> torch.Tensor:
    """Weighted BCE, optionally focal-modulated, shape (B, C)."""
    bce = F.binary_cross_entropy_with_logits(cls_score, label,
                                             reduction='none')
    loss = bce if weight is None else bce * weight
    if not focal['focal']:
        return loss
    if focal_reduction == 'element':
        one_minus_pt = -torch.expm1(-bce)
    elif focal_reduction == 'batch':
        one_minus_pt = -torch.expm1(-bce.mean())
    else:
        raise ValueError(f'focal_reduction must be one of '
                         f'{FOCAL_REDUCTIONS}, got {focal_reduction!r}')
    return focal['balance_param'] * one_minus_pt**focal['gamma'] * loss


def db_loss(cls_score: torch.Tensor,
            label: torch.Tensor,
            weight: Optional[torch.Tensor] = None,
            *,
            class_freq: Optional[torch.Tensor] = None,
            train_num: Optional[int] = None,
            reweight_func: Optional[str] = None,
            focal: Optional[dict] = None,
            logit_reg: Optional[dict] = None,
            map_param: Optional[dict] = None,
            CB_loss: Optional[dict] = None,
            weight_norm: Optional[str] = None,
            focal_reduction: str = 'element',
            reduction: str = 'mean',
            avg_factor: Optional[float] = None) -> torch.Tensor:
    """Functional DB loss on tensors already in the compute dtype.

    ``focal`` (None: no focal modulation), ``map_param`` and ``CB_loss``
    must be complete dicts (see :class:`DBLoss`, which also validates the
    options and the statistics); ``class_freq`` is a float tensor on the
    device of ``cls_score``. ``weight``, ``reduction``
    and ``avg_factor`` follow :func:`reduce_elementwise`.
    """
    focal = focal or dict(focal=False)
    logit_reg = logit_reg or {}
    init_bias = None
    if 'init_bias' in logit_reg:
        init_bias = ntr_init_bias(class_freq, train_num,
                                  logit_reg['init_bias'],
                                  logit_reg.get('neg_scale', 1.0))
    resample = resample_weight(label, reweight_func, class_freq, train_num,
                               map_param, CB_loss, weight_norm)
    if logit_reg:
        pos_scale = logit_reg.get('pos_scale')
        if pos_scale == 'freq_ratio':
            pos_scale = class_freq / class_freq.max()
        cls_score, resample = negative_tolerant_regularization(
            cls_score, label, resample, logit_reg, init_bias, pos_scale)
    loss = db_elementwise_loss(cls_score, label, resample, focal,
                               focal_reduction)
    return reduce_elementwise(loss, weight, reduction, avg_factor)


# ---------------------------------------------------------------------------
# Module
# ---------------------------------------------------------------------------
def _checked_keys(name: str, value: dict, keys: Sequence[str],
                  all_keys: bool = True) -> dict:
    """A copy of the dict option ``name`` if its keys are ``keys`` (a
    subset of them unless ``all_keys``)."""
    if not isinstance(value, dict):
        raise TypeError(f'{name} must be a dict with keys {sorted(keys)}, '
                        f'got {value!r}')
    unknown = set(value) - set(keys)
    missing = set(keys) - set(value) if all_keys else set()
    if unknown or missing:
        raise ValueError(f'{name} must have the keys {sorted(keys)}; '
                         f'unknown {sorted(unknown)}, missing '
                         f'{sorted(missing)}')
    return dict(value)


def _check_logit_reg(logit_reg: Optional[dict]) -> dict:
    logit_reg = _checked_keys('logit_reg', logit_reg or {},
                              ('neg_scale', 'init_bias', 'pos_scale'),
                              all_keys=False)
    if logit_reg.get('neg_scale', 1.0) <= 0:
        raise ValueError('logit_reg neg_scale must be positive')
    pos_scale = logit_reg.get('pos_scale', 1.0)
    if pos_scale != 'freq_ratio' and (isinstance(pos_scale, str)
                                      or pos_scale <= 0):
        raise ValueError(f"logit_reg pos_scale must be a positive number or "
                         f"'freq_ratio', got {pos_scale!r}")
    return logit_reg


def _check_choices(reweight_func: Optional[str], weight_norm: Optional[str],
                   CB_loss: dict, focal_reduction: str) -> None:
    checks = (('reweight_func', reweight_func, REWEIGHT_FUNCS),
              ('weight_norm', weight_norm, WEIGHT_NORMS),
              ('CB_mode', CB_loss['CB_mode'], CB_MODES),
              ('focal_reduction', focal_reduction, FOCAL_REDUCTIONS))
    for key, value, allowed in checks:
        if value not in allowed:
            raise ValueError(f'{key} must be one of {allowed}, got '
                             f'{value!r}')
    if not 0 <= CB_loss['CB_beta'] < 1:
        raise ValueError('CB_beta must be in [0, 1)')


@MODELS.register_module()
class DBLoss(nn.Module, ClassDependent):
    r"""Distribution-balanced loss family, as the official ``ResampleLoss``.

    See the module docstring for the equations. Each option is one
    argument with a plain default, and the dict options (``focal``,
    ``map_param``, ``CB_loss``) are given whole: the official ``focal`` and
    ``CB_loss`` defaults and the COCO-LT ``map_param`` (the official default
    gives weights near 10.5). ``logit_reg`` defaults to None (NTR off; the
    official default dict(neg_scale=5.0, init_bias=0.1) crashes without
    re-weighting). The
    settings of the DB paper (BCE, RW, focal, CB-focal, R-BCE-Focal and
    DB-Focal of COCO-LT / VOC-LT) are config fragments in
    ``configs/_base_/losses/``, each setting every option; the paper's
    samplers (class-aware for RS, R-BCE-Focal and DB-Focal) are not part of
    the loss.

    Config example (COCO-LT DB-Focal, statistics from the train list)::

        _base_ = [..., '../_base_/losses/db-focal_coco-lt.py']
        model = dict(head=dict(loss=dict(
            _base_.db_focal_coco_lt_loss,
            class_stats=dict(ann_file='data/coco/coco_lt_train.txt',
                             label_file='data/coco/coco_labels.txt'))))

    Variants of later papers are options of the same loss (fragments in
    ``configs/_base_/losses/``): HP-DVAL's DB* (``logit_reg`` ``pos_scale``
    with ``focal_reduction='batch'``, ``hpdval-db_{coco,voc}-lt.py``) and
    LT-GCN's modified DB-Focal (``reweight_func='class_static'``,
    ``lt-gcn-db-focal_{coco,voc}-lt.py``; mean over the elements, where the
    official code sums them, B x C times larger).

    Reduction under mmpretrain heads: ``MultiLabelClsHead`` calls
    ``loss(cls_score, target, avg_factor=B)``. By default ``avg_factor`` is
    ignored and the loss is the mean over the B x C elements, the scale of
    the official runner (which averages the unreduced loss); mmpretrain's
    convention (sum / B, C times larger) is opt-in with
    ``use_avg_factor=True``.

    Deliberate differences from the official code: the caller's logits are
    never modified (the official NTR adds the bias in place); the class
    statistics are non-persistent buffers (they follow ``.to()``, are not in
    checkpoints; no ``.cuda()``); NTR without re-weighting uses unit weights
    (the official code raises TypeError); unknown option values raise
    ``ValueError`` (the official code silently uses no weight); a class with
    ``n_i = 0`` raises ``ValueError`` at construction whenever the
    statistics are used (1/n_i and the prior bias would be inf), as does
    ``n_i = N`` with ``init_bias`` (logit(1) = inf); images without positive
    labels get finite weights (``'rebalance'``: alpha + 1, per-image CB modes:
    1 - CB_beta) where the official average CB modes give NaN; the focal
    factor uses ``-expm1(-l)``, the accurate form of ``1 - exp(-l)``; the
    loss is computed in float32 (float64 inputs stay float64) with autocast
    disabled, and the result is float32 for half-precision inputs.

    Args:
        class_freq (Sequence[int] | Tensor, optional): n_i per class.
            Needed by every ``reweight_func`` and by ``init_bias``.
        train_num (int, optional): N, the number of training images. Needed
            by ``'inv'``, ``'sqrt_inv'`` and ``init_bias``.
        class_stats (str | dict, optional): Instead of ``class_freq`` /
            ``train_num``: a source for
            :func:`mmltml.datasets.class_stats.load_class_stats` (its
            ``class_freq`` and ``num_images`` are used).
        reweight_func (str | None): None (default), 'inv', 'sqrt_inv',
            'rebalance', 'CB' or 'class_static' (LT-GCN).
        focal (dict): ``focal`` (bool), ``gamma``, ``balance_param``.
            Defaults to ``dict(focal=True, gamma=2, balance_param=2.0)``.
        logit_reg (dict, optional): NTR; keys ``neg_scale`` (lambda) and/or
            ``init_bias`` (kappa), and ``pos_scale`` (pi, a number or
            ``'freq_ratio'``; HP-DVAL's DB*); ``{}`` or None (default)
            disables it.
        map_param (dict): ``alpha``, ``beta``, ``gamma`` (mu) of
            'rebalance' and 'class_static'. Defaults to
            ``dict(alpha=0.1, beta=10.0, gamma=0.2)`` (COCO-LT).
        CB_loss (dict): ``CB_beta`` and ``CB_mode`` ('by_class',
            'average_n', 'average_w', 'min_n'). Defaults to
            ``dict(CB_beta=0.9, CB_mode='average_w')``.
        weight_norm (str | None): None (default), 'by_instance' or
            'by_batch'.
        focal_reduction (str): 'element' (DB, default) or 'batch' (LMPT's
            literal batch-level focal factor).
        reduction (str): 'mean' (over the B x C elements, default), 'sum' or
            'none' (the (B, C) element losses).
        use_avg_factor (bool): Honour ``avg_factor`` as mmpretrain does
            (``sum / avg_factor`` for 'mean'; an error with 'sum', as in
            mmpretrain). Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        use_sigmoid (bool): Must be True (accepted so that official configs
            port; the softmax path is not meaningful for multi-label).
    """

    def __init__(self,
                 class_freq: Optional[Union[Sequence[int],
                                            torch.Tensor]] = None,
                 train_num: Optional[int] = None,
                 class_stats: Optional[Union[str, dict]] = None,
                 reweight_func: Optional[str] = None,
                 focal: dict = dict(focal=True, gamma=2, balance_param=2.0),
                 logit_reg: Optional[dict] = None,
                 map_param: dict = dict(alpha=0.1, beta=10.0, gamma=0.2),
                 CB_loss: dict = dict(CB_beta=0.9, CB_mode='average_w'),
                 weight_norm: Optional[str] = None,
                 focal_reduction: str = 'element',
                 reduction: str = 'mean',
                 use_avg_factor: bool = False,
                 loss_weight: float = 1.0,
                 use_sigmoid: bool = True) -> None:
        super().__init__()
        if not use_sigmoid:
            raise ValueError('DBLoss only implements use_sigmoid=True')
        self.reweight_func = reweight_func
        self.focal = _checked_keys('focal', focal,
                                   ('focal', 'gamma', 'balance_param'))
        self.logit_reg = _check_logit_reg(logit_reg)
        self.map_param = _checked_keys('map_param', map_param,
                                       ('alpha', 'beta', 'gamma'))
        self.CB_loss = _checked_keys('CB_loss', CB_loss,
                                     ('CB_beta', 'CB_mode'))
        self.weight_norm = weight_norm
        _check_choices(reweight_func, weight_norm, self.CB_loss,
                       focal_reduction)
        self.focal_reduction = focal_reduction
        self.reduction = check_reduction(reduction)
        self.use_avg_factor = use_avg_factor
        self.loss_weight = loss_weight
        freq, num = resolve_class_stats(class_freq, train_num, class_stats)
        self._check_stats(freq, num)
        self.register_buffer('class_freq', freq, persistent=False)
        self.train_num = num

    def _check_stats(self, freq: Optional[torch.Tensor],
                     num: Optional[int]) -> None:
        uses_bias = 'init_bias' in self.logit_reg
        uses_ratio = self.logit_reg.get('pos_scale') == 'freq_ratio'
        if self.reweight_func is None and not (uses_bias or uses_ratio):
            return
        what = (f"reweight_func={self.reweight_func!r}"
                if self.reweight_func else 'logit_reg init_bias' if uses_bias
                else "logit_reg pos_scale='freq_ratio'")
        if freq is None:
            raise ValueError(f'DBLoss with {what} needs class statistics: '
                             'pass class_freq (and train_num) or '
                             'class_stats')
        require_positive_counts(freq, f'DBLoss with {what}')
        needs_num = uses_bias or self.reweight_func in ('inv', 'sqrt_inv',
                                                        'class_static')
        if needs_num and num is None:
            raise ValueError(f'DBLoss with {what} needs train_num (N), or '
                             'class_stats with num_images')
        if uses_bias and bool((freq >= num).any()):
            full = torch.nonzero(freq >= num).flatten().tolist()
            raise ValueError(f'logit_reg init_bias needs n_i < N; classes '
                             f'{full} occur in every training image')

    def class_fields(self) -> List[ClassField]:
        """``class_freq`` (with ``train_num``), when given."""
        return class_stats_fields(self.class_freq, self.train_num)

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): Logits, shape (B, C), any float dtype.
            label (Tensor): Multi-hot labels, shape (B, C), float or int.
            weight (Tensor, optional): Extra mmpretrain-style weight, per
                sample (B,) or per element (B, C), multiplied into the
                element losses after the DB weights and the focal factor.
                It does not change the batch-level focal factor.
            avg_factor (float, optional): Ignored unless ``use_avg_factor``;
                then 'mean' gives ``sum / avg_factor``.
            reduction_override (str, optional): 'none', 'mean' or 'sum'
                for this call.

        Returns:
            Tensor: float32 (float64 for float64 logits) loss, times
            ``loss_weight``; shape (B, C) for ``reduction='none'``.
        """
        reduction = check_reduction(reduction_override or self.reduction)
        if cls_score.shape != label.shape or cls_score.dim() != 2:
            raise ValueError(f'cls_score and label must both be (B, C), got '
                             f'{tuple(cls_score.shape)} and '
                             f'{tuple(label.shape)}')
        if (self.class_freq is not None
                and self.class_freq.numel() != cls_score.size(1)):
            raise ValueError(f'class_freq has {self.class_freq.numel()} '
                             f'classes, cls_score {cls_score.size(1)}')
        dtype = compute_dtype(cls_score)
        with autocast_off(cls_score.device):
            score = cls_score.to(dtype)
            target = label.to(dtype)
            freq = (None if self.class_freq is None else self.class_freq.to(
                device=score.device, dtype=dtype))
            loss = db_loss(
                score, target, weight,
                class_freq=freq, train_num=self.train_num,
                reweight_func=self.reweight_func, focal=self.focal,
                logit_reg=self.logit_reg, map_param=self.map_param,
                CB_loss=self.CB_loss, weight_norm=self.weight_norm,
                focal_reduction=self.focal_reduction, reduction=reduction,
                avg_factor=avg_factor if self.use_avg_factor else None)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'reweight_func={self.reweight_func!r}, '
                f'focal={self.focal}, '
                f'logit_reg={self.logit_reg}, map_param={self.map_param}, '
                f'CB_loss={self.CB_loss}, weight_norm={self.weight_norm!r}, '
                f'focal_reduction={self.focal_reduction!r}, '
                f'reduction={self.reduction!r}')
