# Copyright (c) mmltml contributors. All rights reserved.
"""Benchmark generators used by ``tools/`` (not registered modules).

- :mod:`mmltml.benchmarks.synthetic`: the procedural long-tailed
  multi-label benchmark in the COCO-LT file formats
  (``tools/dataset_converters/generate_synthetic.py``).
"""
