# Copyright (c) mmltml contributors. All rights reserved.
"""The configs written in docs/en/custom_data.md load where the doc says to
save them and keep what they inherit (a doc config that silently dropped
the CLIP normalisation once went unnoticed): the tiny-CLIP config the
guide runs, and the ViT-B/16 variant it describes for real images."""
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config

from tests._tiny_setup import REPO_ROOT

DOC = osp.join(REPO_ROOT, 'docs', 'en', 'custom_data.md')


def doc_configs() -> tuple:
    """``(path, text, vit_path, vit_text)``: the config the guide saves and
    runs, and its ViT-B/16 variant (the variant's ``_base_`` line, then the
    same lines from ``data_root = ...`` to ``test_evaluator = ...``)."""
    with open(DOC) as f:
        text = f.read()
    paths = re.findall(r'`(configs/mydata/[^`]+\.py)`', text)
    blocks = re.findall(r'```python\n(_base_ = .*?)```', text, re.S)
    tiny, vit = blocks[0], blocks[1]
    data = re.search(r'^data_root = .*?^test_evaluator = val_evaluator\n',
                     tiny, re.S | re.M).group(0)
    return paths[0], tiny, paths[1], vit.splitlines()[0] + '\n' + data


def link_configs(root) -> None:
    """The repository's configs beside the doc's files, as in a checkout."""
    configs = root / 'configs'
    configs.mkdir()
    for name in os.listdir(osp.join(REPO_ROOT, 'configs')):
        os.symlink(osp.join(REPO_ROOT, 'configs', name), configs / name)
    (configs / 'mydata').mkdir()


@pytest.mark.parametrize('variant, base', [
    (0, 'configs/synthetic/lmpt_tinyclip_synthetic.py'),
    (1, 'configs/lmpt/lmpt_vitb16_coco-lt.py'),
])
def test_custom_data_config_keeps_the_base_preprocessing(
        tmp_path, variant, base):
    found = doc_configs()
    rel_path, block = found[2 * variant], found[2 * variant + 1]
    assert rel_path.startswith('configs/mydata/')
    link_configs(tmp_path)
    target = tmp_path / rel_path
    target.write_text(block)

    cfg = Config.fromfile(str(target))
    base = Config.fromfile(osp.join(REPO_ROOT, base))
    preprocessor = cfg.get('data_preprocessor')
    assert 'data_preprocessor' not in cfg.model
    assert preprocessor['num_classes'] == 24
    for key in ('mean', 'std', 'to_rgb', 'to_onehot'):
        assert preprocessor[key] == base.data_preprocessor[key], key
    train = cfg.train_dataloader.dataset
    assert train.type == base.train_dataloader.dataset.type  # cache kept
    assert train.dataset.data_root == 'data/mydata'
    assert train.dataset.pipeline == base.train_pipeline
    assert cfg.val_evaluator.class_stats.ann_file == (
        'data/mydata/mydata_lt_train.txt')
    assert cfg.model.backbone.classnames == 'data/mydata/mydata_lt_labels.txt'
    assert cfg.model.backbone.clip_pretrained == (
        base.model.backbone.clip_pretrained)
