# Copyright (c) mmltml contributors. All rights reserved.
from mmpretrain.registry import DATASETS

from .categories import COCO_LT_CLASSES
from .lt_benchmark import LTBenchmarkDataset


@DATASETS.register_module()
class COCOLTDataset(LTBenchmarkDataset):
    """COCO-LT: the long-tailed COCO multi-label split of Wu et al. (2020).

    80 classes; 1,909 train2017 images for training and the 5,000 val2017
    images for testing (48 of them have no label). The list, label and
    caption files are those distributed with LMPT; fetch them with
    ``tools/dataset_converters/download_ltml.py`` (or rebuild the lists with
    ``coco_to_list.py``). Expected layout: ::

        data/coco
        ├── train2017
        │   └── 000000554625.jpg ...
        ├── val2017
        │   └── 000000000139.jpg ...
        ├── coco_labels.txt
        ├── coco_lt_train.txt
        ├── coco_lt_test.txt
        └── coco_lt_captions.txt

    Args:
        data_root (str): Dataset root, e.g. ``'data/coco'``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        ann_file (str): List file; defaults to ``coco_lt_{split}.txt``.
        with_captions (bool): Load the captions and require one for every
            image (training split only). Defaults to False.
        caption_file (str): Caption file; defaults to
            ``'coco_lt_captions.txt'`` when ``with_captions``. Given without
            ``with_captions``, captions are loaded but not required.
        test_mode (bool, optional): Defaults to ``split == 'test'``.
        **kwargs: Other arguments of :class:`LTMultiLabelDataset`
            (``label_file``, ``pipeline``, ``data_prefix``, ...).

    Examples:
        >>> from mmltml.datasets import COCOLTDataset
        >>> train = COCOLTDataset('data/coco', split='train',
        ...                       with_captions=True)
        >>> len(train), train.num_captions
        (1909, 1909)
        >>> test = COCOLTDataset('data/coco', split='test')
        >>> len(test), test.num_unlabelled
        (5000, 48)
    """

    METAINFO = {'classes': COCO_LT_CLASSES}
    PRESET = 'coco-lt'
    DATA_ROOT = 'data/coco'
    FILE_PREFIX = 'coco_lt'
    LABEL_FILE = 'coco_labels.txt'
