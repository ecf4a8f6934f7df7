# Copyright (c) mmltml contributors. All rights reserved.
"""tools/analysis_tools/benchmark_classes.py's parts with a tiny CLIP: a
point measures what it says (the chunked path costs exactly one more
forward pass of the text tower over all chunks but the first in FLOPs; the class-specific memory is the
context, its gradient and SGD's momentum), and the summary's slope and
growth are the least-squares slope and the ratio they claim."""
import os.path as osp

import numpy as np
import pytest

from mmltml.benchmarks.class_scaling import measure_point, summarise_points
from tests._tiny_setup import REPO_ROOT, run_tool

LMPT = osp.join(REPO_ROOT, 'configs', 'lmpt', 'lmpt_vitb16_coco-lt.py')
TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark_classes.py')
TINY_CFG = f"""
_base_ = [{LMPT!r}]
model = dict(backbone=dict(
    clip_model_name=None, clip_pretrained=None,
    prompt_learner=dict(n_ctx=4),
    clip_model_cfg=dict(
        embed_dim=32,
        vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
        text_cfg=dict(context_length=32, vocab_size=49408, width=32,
                      heads=2, layers=1))))
"""


@pytest.fixture
def tiny_cfg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/coco: synthetic class counts
    path = tmp_path / 'tiny_lmpt.py'
    path.write_text(TINY_CFG)
    return str(path)


def test_chunked_step_recomputes_all_chunks_but_the_first(tiny_cfg):
    kwargs = dict(config=tiny_cfg, steps=2, batch_size=4, threads=1,
                  count_flops=True)
    chunked = measure_point(40, 16, **kwargs)
    plain = measure_point(40, 0, **kwargs)
    assert chunked['used_chunk'] == 16 and plain['used_chunk'] == 0
    assert chunked['text_tokens'] == plain['text_tokens']
    flops, plain_flops = chunked['step_flops'], plain['step_flops']
    # the same forward, then the recomputation inside the backward pass
    # of every chunk but the first (kept): 24 of the 40 classes
    assert flops['text'] == pytest.approx(plain_flops['text'], rel=1e-9)
    assert flops['backward_step'] == pytest.approx(
        plain_flops['backward_step'] + plain_flops['text'] * 24 / 40,
        rel=1e-9)
    # 40 x 4 x 32 fp32 context values, their gradient and SGD's momentum
    for point in (chunked, plain):
        assert point['class_specific_mib'] == 40 * 4 * 32 * 4 * 3 / 2**20
        assert point['peak_rss_mib'] > point['class_specific_mib']
        assert point['step_s'] > 0 and point['step_cpu_s'] > 0
        assert point['steps'] == 2 and point['timed_steps'] == 1
    summary = summarise_points([chunked, plain])
    ratio = summary['step_flops_ratio_chunked_to_plain'][40]
    assert ratio == pytest.approx(
        sum(flops.values()) / sum(plain_flops.values()))
    assert 1 < ratio < 2


def test_summary_slope_and_growth():
    points = [
        dict(num_classes=c, chunk=None, used_chunk=100, step_s=c / 100,
             step_cpu_s=c / 50, step_flops=None, peak_rss_mib=peak,
             class_specific_mib=c * 0.1)
        for c, peak in ((400, 3000.0), (1000, 3150.0), (10000, 4300.0))
    ] + [dict(num_classes=400, chunk=0, used_chunk=0, step_s=3.0,
              step_cpu_s=6.0, step_flops=None, peak_rss_mib=6000.0,
              class_specific_mib=40.0)]
    summary = summarise_points(points)
    chunked = summary['chunked']
    classes = np.array([400, 1000, 10000])
    beyond = np.array([3000 - 40, 3150 - 100, 4300 - 1000])
    slope = np.sum((classes - classes.mean()) * (beyond - beyond.mean())) / \
        np.sum((classes - classes.mean())**2)
    assert chunked['beyond_slope_mib_per_1000'] == pytest.approx(
        slope * 1000)
    assert chunked['growth'] == dict(from_classes=1000, to_classes=10000,
                                     fraction=pytest.approx(3300 / 3050 - 1))
    assert summary['step_s_ratio_chunked_to_plain'] == {
        400: pytest.approx(4 / 3)}
    assert 'plain' in summary and 'growth' not in summary['plain']


@pytest.mark.slow
def test_tool_runs_each_point_in_its_own_process(tiny_cfg, tmp_path):
    import json
    out = tmp_path / 'classes.json'
    proc = run_tool([TOOL, '--config', tiny_cfg, '--classes', '40', '8',
                     '--chunk', '16', '--plain-up-to', '40', '--steps', '1',
                     '--batch-size', '4', '--threads', '1', '--out',
                     str(out)], str(tmp_path), timeout=600)
    assert 'FLOPs chunked / plain: 40 classes' in proc.stdout
    result = json.loads(out.read_text())
    # 8 classes fit one chunk of 16: one (plain) point
    assert [(p['num_classes'], p['used_chunk']) for p in result['points']
            ] == [(8, 0), (40, 16), (40, 0)]
    assert all(p['process_peak_rss_mib'] >= p['peak_rss_mib']
               for p in result['points'])
