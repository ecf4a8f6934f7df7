# Copyright (c) mmltml contributors. All rights reserved.
from mmpretrain.registry import DATASETS

from .lt_benchmark import LTBenchmarkDataset

# The 81 NUS-WIDE concepts in the order of the distribution's
# ``Concepts81.txt`` (alphabetical), the column order of its label files.
NUS_WIDE_LT_CLASSES = (
    'airport', 'animal', 'beach', 'bear', 'birds', 'boats', 'book', 'bridge',
    'buildings', 'cars', 'castle', 'cat', 'cityscape', 'clouds', 'computer',
    'coral', 'cow', 'dancing', 'dog', 'earthquake', 'elk', 'fire', 'fish',
    'flags', 'flowers', 'food', 'fox', 'frost', 'garden', 'glacier', 'grass',
    'harbor', 'horses', 'house', 'lake', 'leaf', 'map', 'military', 'moon',
    'mountain', 'nighttime', 'ocean', 'person', 'plane', 'plants', 'police',
    'protest', 'railroad', 'rainbow', 'reflection', 'road', 'rocks',
    'running', 'sand', 'sign', 'sky', 'snow', 'soccer', 'sports', 'statue',
    'street', 'sun', 'sunset', 'surf', 'swimmers', 'tattoo', 'temple',
    'tiger', 'tower', 'town', 'toy', 'train', 'tree', 'valley', 'vehicle',
    'water', 'waterfall', 'wedding', 'whales', 'window', 'zebra')


@DATASETS.register_module()
class NUSWIDELTDataset(LTBenchmarkDataset):
    """NUS-WIDE-LT: a long-tailed split of NUS-WIDE (Chua et al., CIVR
    2009) made by mmltml, **not an official split**.

    81 concepts. The training list is drawn from the official NUS-WIDE
    training images that have a concept label and a Flickr tag, by
    ``make_lt_split`` with fixed parameters and seed (the DB-loss Pareto
    curve, 1200 down to 1, largest targets to the most frequent concepts,
    seed 0); the test list is every official test image with a concept
    label; the captions are each training image's Flickr tags. The files
    are derived from NUS-WIDE's licensed annotations, so they are not
    distributed: ``tools/dataset_converters/nus_wide_to_list.py``
    regenerates them, byte-identically, from the distribution's files
    (layout, parameters and checksums: ``docs/en/prepare_data.md``).
    Expected layout after the converter: ::

        data/nus-wide
        ├── Flickr/actor/0001_2124494179.jpg ...   the images
        ├── nus_wide_lt_labels.txt
        ├── nus_wide_lt_train.txt
        ├── nus_wide_lt_test.txt
        └── nus_wide_lt_captions.txt

    See :class:`~mmltml.datasets.lt_benchmark.LTBenchmarkDataset` for the
    arguments.

    Examples:
        >>> from mmltml.datasets import NUSWIDELTDataset
        >>> train = NUSWIDELTDataset('data/nus-wide', with_captions=True)
        >>> test = NUSWIDELTDataset('data/nus-wide', split='test')
    """

    METAINFO = {'classes': NUS_WIDE_LT_CLASSES}
    PRESET = 'nus-wide-lt'
    DATA_ROOT = 'data/nus-wide'
    FILE_PREFIX = 'nus_wide_lt'
    LABEL_FILE = 'nus_wide_lt_labels.txt'
