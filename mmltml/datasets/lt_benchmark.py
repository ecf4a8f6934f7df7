# Copyright (c) mmltml contributors. All rights reserved.
"""Benchmark presets: a long-tailed benchmark is one small subclass.

A subclass of :class:`LTBenchmarkDataset` that sets ``PRESET`` is a
*benchmark preset*. Defining it registers

* its class names (``METAINFO['classes']``) as the class-name preset
  ``PRESET`` (``classnames='nus-wide-lt'`` in a model config,
  ``label_file='nus-wide-lt'`` in a statistics reference), and
* itself in :func:`benchmark_datasets`, where the tests find every
  benchmark, its files and its default data root, and build a small
  fixture of it without per-dataset test code.

Its files live under ``DATA_ROOT`` and are named by :meth:`files`:
``{FILE_PREFIX}_train.txt``, ``{FILE_PREFIX}_test.txt``, ``LABEL_FILE``
and, with ``HAS_CAPTIONS``, ``{FILE_PREFIX}_captions.txt``. Adding a
benchmark (``docs/en/design.md``, "Adding a dataset"): this subclass, one
base config per input recipe under ``configs/_base_/datasets/`` and the
tool that writes its files.
"""
from typing import Dict, NamedTuple, Optional, Tuple

from .categories import register_class_names
from .lt_multi_label import LTMultiLabelDataset

#: Preset name -> benchmark dataset class, in definition order.
_BENCHMARKS: Dict[str, type] = {}
SPLITS = ('train', 'test')


class BenchmarkFiles(NamedTuple):
    """File names of a benchmark, relative to its data root."""
    labels: str  #: ``<class name> <index>`` label file
    train: str  #: training list file
    test: str  #: test list file
    captions: Optional[str]  #: captions of the training images, or None


class LTBenchmarkDataset(LTMultiLabelDataset):
    """Base of the benchmark presets (see the module docstring).

    A preset subclass sets:

    * ``PRESET`` (str): the benchmark's name, e.g. ``'coco-lt'``;
    * ``METAINFO`` (dict): ``{'classes': (...)}``, in label-index order;
    * ``DATA_ROOT`` (str): the data root of its configs, e.g.
      ``'data/coco'``;
    * ``FILE_PREFIX`` (str) and ``LABEL_FILE`` (str): its file names;
    * ``HAS_CAPTIONS`` (bool): whether its training images have captions.

    Args:
        data_root (str): Dataset root, e.g. ``'data/coco'``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        ann_file (str): List file; defaults to ``{FILE_PREFIX}_{split}.txt``.
        with_captions (bool): Load the captions and require one for every
            image (training split only). Defaults to False.
        caption_file (str): Caption file; defaults to
            ``{FILE_PREFIX}_captions.txt`` when ``with_captions``. Given
            without ``with_captions``, captions are loaded but not required.
        test_mode (bool, optional): Defaults to ``split == 'test'``.
        **kwargs: Other arguments of :class:`LTMultiLabelDataset`
            (``label_file``, ``pipeline``, ``data_prefix``, ...).
    """

    PRESET = ''
    DATA_ROOT = ''
    FILE_PREFIX = ''
    LABEL_FILE = ''
    HAS_CAPTIONS = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.PRESET:
            return
        missing = [name for name in ('DATA_ROOT', 'FILE_PREFIX', 'LABEL_FILE')
                   if not getattr(cls, name)]
        classes = cls.METAINFO.get('classes')
        if missing or not classes:
            raise TypeError(f'benchmark preset {cls.__name__} must set '
                            f'{missing + ([] if classes else ["METAINFO"])}')
        register_class_names(cls.PRESET, classes)
        _BENCHMARKS[cls.PRESET] = cls

    @classmethod
    def files(cls) -> BenchmarkFiles:
        """The benchmark's file names, relative to its data root."""
        return BenchmarkFiles(
            labels=cls.LABEL_FILE,
            train=f'{cls.FILE_PREFIX}_train.txt',
            test=f'{cls.FILE_PREFIX}_test.txt',
            captions=(f'{cls.FILE_PREFIX}_captions.txt'
                      if cls.HAS_CAPTIONS else None))

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = '',
                 with_captions: bool = False,
                 caption_file: str = '',
                 test_mode: Optional[bool] = None,
                 **kwargs):
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if with_captions and split != 'train':
            raise ValueError('captions exist only for the train split')
        self.split = split
        if with_captions and not caption_file:
            caption_file = f'{self.FILE_PREFIX}_captions.txt'
        if caption_file:
            kwargs.setdefault('require_captions', with_captions)
        super().__init__(
            ann_file=ann_file or f'{self.FILE_PREFIX}_{split}.txt',
            data_root=data_root,
            caption_file=caption_file or None,
            test_mode=split == 'test' if test_mode is None else test_mode,
            **kwargs)


def benchmark_datasets() -> Tuple[type, ...]:
    """Every benchmark preset class (:class:`LTBenchmarkDataset` subclasses
    with a ``PRESET``), in the order they were defined."""
    return tuple(_BENCHMARKS.values())
