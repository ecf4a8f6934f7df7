# Copyright (c) mmltml contributors. All rights reserved.
"""Image errors name the image: in ``tools/misc/predict.py`` (before, a
zero-byte file gave a bare OpenCV assertion) and when a batch of images of
different sizes cannot be stacked (before, torch's ``stack expects each
tensor to be equal size``)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image

from mmltml.utils.launch import set_dataloader_defaults
from tests._tiny_setup import REPO_ROOT

PREDICT = osp.join(REPO_ROOT, 'tools', 'misc', 'predict.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'synthetic',
                  'resnet18-w16_bce_synthetic.py')


def _image(path, height, width):
    rng = np.random.default_rng(height * width)
    Image.fromarray(rng.integers(0, 255, (height, width, 3),
                                 dtype=np.uint8)).save(path)


def test_predict_names_an_empty_image(tmp_path):
    good, empty = str(tmp_path / 'good.png'), str(tmp_path / 'empty.jpg')
    _image(good, 16, 16)
    open(empty, 'wb').close()
    proc = subprocess.run(
        [sys.executable, PREDICT, CONFIG, 'none', good, empty],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    assert proc.returncode == 1
    assert f'error: image {empty} (argument 2 of the images) is empty' in \
        proc.stderr
    assert good not in proc.stderr and 'Traceback' not in proc.stderr


def test_images_of_different_sizes_are_named_at_collation(tmp_path):
    sizes = {'a.png': (20, 30), 'b.png': (24, 24)}
    for name, (h, w) in sizes.items():
        _image(str(tmp_path / name), h, w)
    (tmp_path / 'list.txt').write_text('a.png 0\nb.png 1\n')
    cfg = Config(dict(train_dataloader=dict(
        batch_size=2, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='LTMultiLabelDataset', ann_file='list.txt',
            data_root=str(tmp_path), metainfo=dict(classes=['x', 'y']),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')]))))
    set_dataloader_defaults(cfg)
    init_default_scope('mmpretrain')
    loader = Runner.build_dataloader(cfg.train_dataloader)
    with pytest.raises(ValueError, match='different sizes') as error:
        next(iter(loader))
    for name, (h, w) in sizes.items():
        assert f'{tmp_path / name}: (3, {h}, {w})' in str(error.value)
