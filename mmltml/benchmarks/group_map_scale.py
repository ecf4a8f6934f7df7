# Copyright (c) mmltml contributors. All rights reserved.
"""Memory and time of :class:`~mmltml.evaluation.GroupMAP` over many
classes and images (``tools/analysis_tools/benchmark_group_map.py``).

The metric is fed as a test loop feeds it: batches of data samples whose
``pred_logits`` are the rows of the batch's fp32 logits ``[B, C]`` and whose
``gt_label`` are label lists; then ``evaluate`` collects the results and
computes the group mAP. Labels are long-tailed (1 + Poisson(1.9) per image,
classes drawn in proportion to COCO-LT-like counts from 1,128 down to 6);
logits are N(0, 1) plus 3 for the positives, rounded to 1/100 so that
images tie, as quantised scores do.
"""
import time
from typing import Iterator, List, Tuple

import numpy as np
import torch

from .memory import (current_memory_mib, peak_memory_mib,
                     release_free_memory, reset_peak_memory)
from .setup import long_tailed_freq


def synthetic_batches(num_classes: int, num_images: int, batch_size: int,
                      seed: int) -> Iterator[List[dict]]:
    """Batches of test-loop data samples (dicts), see the module doc."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    prob = np.asarray(long_tailed_freq(num_classes), dtype=np.float64)
    cdf = np.cumsum(prob / prob.sum())
    for start in range(0, num_images, batch_size):
        num = min(batch_size, num_images - start)
        logits = torch.randn(num, num_classes, generator=generator)
        labels = []
        for row in logits:
            draws = np.searchsorted(cdf, rng.random(1 + rng.poisson(1.9)))
            label = np.unique(np.minimum(draws, num_classes - 1))
            row[torch.from_numpy(label)] += 3
            labels.append(torch.from_numpy(label))
        logits = torch.round(logits * 100) / 100
        yield [dict(pred_logits=row, gt_label=label)
               for row, label in zip(logits, labels)]


def measure_group_map(num_classes: int, num_images: int,
                      batch_size: int = 256,
                      seed: int = 0) -> Tuple[dict, dict]:
    """Feed and evaluate a :class:`GroupMAP` (training counts: the
    long-tailed profile); returns the measurement and the metrics."""
    from mmltml.evaluation import GroupMAP
    device = torch.device('cpu')
    metric = GroupMAP(class_freq=long_tailed_freq(num_classes))
    memory_kind = reset_peak_memory(device)
    before = current_memory_mib(device)
    start = time.perf_counter()
    feed_s = 0.0
    for samples in synthetic_batches(num_classes, num_images, batch_size,
                                     seed):
        tick = time.perf_counter()
        metric.process(None, samples)
        feed_s += time.perf_counter() - tick
    generate_and_process_s = time.perf_counter() - start
    release_free_memory()  # what the results hold, not the generator's
    after_process = current_memory_mib(device)
    tick = time.perf_counter()
    metrics = metric.evaluate(num_images)
    evaluate_s = time.perf_counter() - tick
    return dict(
        num_classes=num_classes, num_images=num_images,
        batch_size=batch_size,
        scores_mib=num_classes * num_images * 4 / 2**20,
        process_s=feed_s,
        generate_and_process_s=generate_and_process_s,
        evaluate_s=evaluate_s,
        rss_before_mib=before,
        rss_after_process_mib=after_process,
        peak_rss_mib=peak_memory_mib(device),
        memory_kind=memory_kind), metrics
