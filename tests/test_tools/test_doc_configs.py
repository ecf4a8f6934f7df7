# Copyright (c) mmltml contributors. All rights reserved.
"""The config written in docs/en/custom_data.md loads where the doc says to
save it and keeps what it inherits (a doc config that silently dropped the
CLIP normalisation once went unnoticed)."""
import os
import os.path as osp
import re

from mmengine.config import Config

from tests._tiny_setup import REPO_ROOT

DOC = osp.join(REPO_ROOT, 'docs', 'en', 'custom_data.md')


def _doc_config() -> tuple:
    with open(DOC) as f:
        text = f.read()
    path = re.search(r'saved as\s+`(configs/[^`]+\.py)`', text).group(1)
    block = re.search(r'```python\n(_base_ = .*?)```', text, re.S).group(1)
    return path, block


def test_custom_data_config_keeps_the_base_preprocessing(tmp_path):
    rel_path, block = _doc_config()
    # the repository's configs beside the doc's file, as in a checkout
    configs = tmp_path / 'configs'
    configs.mkdir()
    for name in os.listdir(osp.join(REPO_ROOT, 'configs')):
        os.symlink(osp.join(REPO_ROOT, 'configs', name), configs / name)
    target = tmp_path / rel_path
    target.parent.mkdir(parents=True)
    target.write_text(block)

    cfg = Config.fromfile(str(target))
    base = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'lmpt', 'lmpt_vitb16_coco-lt.py'))
    preprocessor = cfg.get('data_preprocessor')
    assert 'data_preprocessor' not in cfg.model
    assert preprocessor['num_classes'] == 12
    for key in ('mean', 'std', 'to_rgb', 'to_onehot'):
        assert preprocessor[key] == base.data_preprocessor[key], key
    train = cfg.train_dataloader.dataset
    assert train.type == base.train_dataloader.dataset.type  # cache kept
    assert train.dataset.data_root == 'data/mydata'
    assert train.dataset.pipeline == base.train_pipeline
    assert cfg.val_evaluator.class_stats.ann_file == 'data/mydata/train.txt'
