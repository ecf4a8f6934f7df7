# Copyright (c) mmltml contributors. All rights reserved.
"""The parts of tools/analysis_tools/benchmark_train.py in mmltml.benchmarks:
FLOP counts against formulas computed by hand, stage metering, and the
exactness comparison."""
import pytest
import torch

from mmltml.benchmarks.exactness import MismatchError, compare_results
from mmltml.benchmarks.flops import StageFlops
from mmltml.benchmarks.step_timing import StageMeter


def test_stage_flops_counts_products_and_cpu_attention():
    counter = StageFlops()
    linear = torch.nn.Linear(8, 16)
    x = torch.randn(5, 8, requires_grad=True)
    with counter('linear'):
        linear(x).sum().backward()  # forward, then input + weight grads
    assert counter.flops['linear'] == 3 * (2 * 5 * 8 * 16)
    q = torch.randn(1, 2, 6, 4)
    with counter('attention'):
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    # Q K^T and A V: two products of 2 x 6 x 6 x 4 multiply-adds each
    assert counter.flops['attention'] == 2 * (2 * 2 * 6 * 6 * 4)
    # nn.MultiheadAttention: the fused inference kernel (frozen towers)
    # counts as its unfused decomposition (4 projections + attention)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad(), counter('fused'):
        mha(x, x, x, need_weights=False)
    with counter('unfused'):  # grad enabled: the decomposed path
        mha(x, x, x, need_weights=False)
    expected = 4 * (2 * 2 * 5 * 8 * 8) + 2 * (2 * 2 * 5 * 5 * 8)
    assert counter.flops['fused'] == counter.flops['unfused'] == expected


def test_nested_stages_are_counted_once():
    """Each interval goes to the innermost open stage; the stages sum to
    the reading over the outermost one (a fake clock: readings 0, 1, 3 and 6
    at the four boundaries of a stage nested in another)."""
    readings = iter([0, 1, 3, 6])
    meter = StageMeter(lambda: next(readings))
    with meter('outer'):  # reads 0
        with meter('inner'):  # reads 1
            pass  # exit reads 3
    # exit reads 6
    assert meter.totals == {'outer': 1 + 3, 'inner': 2}
    counter = StageFlops()
    linear = torch.nn.Linear(8, 16)
    with counter('outer'):
        linear(torch.randn(5, 8))
        with counter('inner'):
            linear(torch.randn(3, 8))
    assert counter.flops == {'outer': 2 * 5 * 8 * 16, 'inner': 2 * 3 * 8 * 16}


def test_compare_results():
    plain = dict(logits=torch.tensor([[10.0, -3.0]]),
                 loss=torch.tensor(0.5), cse_active_neg=torch.tensor(0.2))
    plain['param:ctx'] = torch.ones(2, 3)
    same = {k: v.clone() for k, v in plain.items()}
    same['logits'] = same['logits'] + 5e-4  # within 1e-5 * logit scale 100
    same['cse_active_neg'] = torch.tensor(0.3)  # a diagnostic, not compared
    report = compare_results(plain, same, logit_scale=100.)
    assert set(report) == {'logits', 'loss', 'param:ctx'}
    for key, delta in (('loss', 1e-3), ('logits', 1e-2), ('param:ctx', 1e-3)):
        bad = dict(same)
        bad[key] = plain[key] + delta
        with pytest.raises(MismatchError, match=key):
            compare_results(plain, bad, logit_scale=100.)
    bad = dict(same, logits=torch.zeros(1, 3))
    with pytest.raises(MismatchError):
        compare_results(plain, bad, logit_scale=100.)
