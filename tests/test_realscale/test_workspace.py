# Copyright (c) mmltml contributors. All rights reserved.
"""The real-scale tier's data without the official files (a fresh clone):
generated lists in the official formats load as COCO-LT / VOC-LT with the
official training class counts, and the stand-in images are COCO-sized
JPEGs."""

import numpy as np
import pytest
from PIL import Image

from mmltml.datasets import COCOLTDataset, VOCLTDataset
from mmltml.utils.stand_in_images import COCO_IMAGE_SIZES
from tests.test_datasets import ltml_counts
from tests.test_realscale._setup import (covering_lines, make_dataset,
                                         train_class_counts)

CASES = [('coco', COCOLTDataset, ltml_counts.COCO_TRAIN),
         ('voc', VOCLTDataset, ltml_counts.VOC_TRAIN)]


@pytest.mark.parametrize('name,dataset_type,official_counts', CASES)
def test_generated_lists_load_with_official_counts(tmp_path, name,
                                                   dataset_type,
                                                   official_counts):
    data_dir = make_dataset(str(tmp_path), name, None, num_train=3,
                            num_test=8)
    train = dataset_type(data_root=data_dir, split='train',
                         with_captions=True, indices=3)
    test = dataset_type(data_root=data_dir, split='test')
    assert len(train) == 3 and len(test) == 8
    assert 'caption' in train.get_data_info(0)
    assert test.num_unlabelled == 1
    np.testing.assert_array_equal(
        train_class_counts(data_dir, name, len(official_counts)),
        official_counts)
    for info in [train.get_data_info(i) for i in range(3)] + \
            [test.get_data_info(i) for i in range(8)]:
        with Image.open(info['img_path']) as image:
            assert image.format == 'JPEG'
            assert image.size in COCO_IMAGE_SIZES


def test_covering_lines_cover_classes_first_and_keep_one_unlabelled():
    lines = ['a.jpg 0', 'b.jpg 0', 'c.jpg', 'd.jpg 1 0', 'e.jpg 2',
             'f.jpg', 'g.jpg 1']
    assert covering_lines(lines, 4) == ['a.jpg 0', 'd.jpg 1 0', 'e.jpg 2',
                                        'c.jpg']
    assert covering_lines(lines, 5) == ['a.jpg 0', 'd.jpg 1 0', 'e.jpg 2',
                                        'b.jpg 0', 'c.jpg']
