# Copyright (c) mmltml contributors. All rights reserved.
"""Benchmark parts used by ``tools/`` (not registered modules).

- :mod:`~mmltml.benchmarks.synthetic`: the procedural long-tailed
  multi-label benchmark in the COCO-LT file formats
  (``tools/dataset_converters/generate_synthetic.py``).

``tools/analysis_tools/benchmark_train.py`` (the training step of a
CLIP-prompt config, plain vs optimised):

- :mod:`~mmltml.benchmarks.setup`: config, class statistics, model;
- :mod:`~mmltml.benchmarks.train_batch`: the synthetic training batch;
- :mod:`~mmltml.benchmarks.feature_cache`: everything that touches the
  image-feature cache (cached batches, the config without the cache);
- :mod:`~mmltml.benchmarks.step_timing`: ``model.train_step`` metered per
  stage (wall time);
- :mod:`~mmltml.benchmarks.flops`: the same stages in counted FLOPs, and an
  epoch in FLOPs;
- :mod:`~mmltml.benchmarks.memory`: peak memory of training steps;
- :mod:`~mmltml.benchmarks.exactness`: plain vs optimised step, metered vs
  bare step;
- :mod:`~mmltml.benchmarks.epoch`: the COCO-LT-sized epoch estimate and the
  cached evaluation;
- :mod:`~mmltml.benchmarks.end_to_end`: the whole recipe through
  ``tools/train.py``, reference vs fast path;
- :mod:`~mmltml.benchmarks.whole_step`: ``--whole-step``, the whole
  ``model.train_step`` of any config (fine-tuning ones), random weights;
- :mod:`~mmltml.benchmarks.machine`: what a run ran on.

``tools/misc/pretrain_tiny_clip.py`` (the tiny CLIP of the synthetic
benchmark):

- :mod:`~mmltml.benchmarks.pretrain_pairs`: rendered image-caption pairs,
  the positives mask and the training batches;
- :mod:`~mmltml.benchmarks.contrastive`: the contrastive loss and the
  mmengine model whose ``train_step`` trains the CLIP;
- :mod:`~mmltml.benchmarks.zero_shot`: zero-shot group mAP on the
  benchmark's test split.
"""
