# Copyright (c) mmltml contributors. All rights reserved.
from mmpretrain.registry import DATASETS

from .categories import VOC_LT_CLASSES
from .lt_benchmark import LTBenchmarkDataset


@DATASETS.register_module()
class VOCLTDataset(LTBenchmarkDataset):
    """VOC-LT: the long-tailed PASCAL VOC multi-label split of Wu et al.

    20 classes; 1,142 VOC2012 trainval images for training and the 4,952
    VOC2007 test images for testing, with difficult objects counted as
    positives. Files as distributed with LMPT (see
    ``tools/dataset_converters/download_ltml.py`` and ``voc_to_list.py``).
    Expected layout: ::

        data/voc
        ├── VOCdevkit
        │   ├── VOC2012/JPEGImages/2008_000023.jpg ...
        │   └── VOC2007/JPEGImages/000001.jpg ...
        ├── voc_labels.txt
        ├── voc_lt_train.txt
        ├── voc_lt_test.txt
        └── voc_lt_captions.txt

    Args:
        data_root (str): Dataset root, e.g. ``'data/voc'``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        ann_file (str): List file; defaults to ``voc_lt_{split}.txt``.
        with_captions (bool): Load the captions and require one for every
            image (training split only). Defaults to False.
        caption_file (str): Caption file; defaults to
            ``'voc_lt_captions.txt'`` when ``with_captions``. Given without
            ``with_captions``, captions are loaded but not required.
        test_mode (bool, optional): Defaults to ``split == 'test'``.
        **kwargs: Other arguments of :class:`LTMultiLabelDataset`.

    Examples:
        >>> from mmltml.datasets import VOCLTDataset
        >>> len(VOCLTDataset('data/voc', split='train'))
        1142
        >>> len(VOCLTDataset('data/voc', split='test'))
        4952
    """

    METAINFO = {'classes': VOC_LT_CLASSES}
    PRESET = 'voc-lt'
    DATA_ROOT = 'data/voc'
    FILE_PREFIX = 'voc_lt'
    LABEL_FILE = 'voc_labels.txt'
