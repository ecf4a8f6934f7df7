# Copyright (c) mmltml contributors. All rights reserved.
"""``tools/misc/predict.py --classes / --classes-file``: zero-shot
predictions without a config, the same as :class:`ZeroShotInferencer`
(tested against open_clip's API in tests/test_apis), and the names file
reader."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmltml.apis import ZeroShotInferencer
from mmltml.datasets.categories import read_class_names_file
from tests._tiny_setup import REPO_ROOT, run_tool

PREDICT = osp.join(REPO_ROOT, 'tools', 'misc', 'predict.py')
CHECKPOINT = osp.join(REPO_ROOT, 'checkpoints', 'tinyclip_synthetic.pth')
NAMES = ['red circle', 'blue star', 'green square', 'yellow triangle']


def _predict_module():
    spec = importlib.util.spec_from_file_location('predict', PREDICT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(stdout, images, expected):
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line['image'] for line in lines] == images
    for line, result in zip(lines, expected):
        got = line['predictions']
        assert [name for name, _, _ in got] == result['pred_classes']
        assert [logit for _, _, logit in got] == pytest.approx(
            result['pred_label_logits'], abs=1e-5)


def test_predict_zero_shot_matches_the_api(tmp_path, capsys):
    """The names file through the real entry point, --classes and a CLIP
    config file in-process (the same parser and code path)."""
    rng = np.random.default_rng(0)
    images = []
    for i, size in enumerate([(64, 64), (90, 50)]):
        path = str(tmp_path / f'{i}.png')
        Image.fromarray(rng.integers(0, 255, size[::-1] + (3, ),
                                     np.uint8)).save(path)
        images.append(path)
    names_file = tmp_path / 'names.txt'
    names_file.write_text('\n'.join(NAMES) + '\n\n')
    templates = ['a photo of a {}.', 'there is a {}.']
    expected = ZeroShotInferencer(NAMES, clip_model_cfg='tinyclip-synthetic',
                                  clip_pretrained=CHECKPOINT,
                                  templates=templates, device='cpu',
                                  topk=3)(images)
    common = ['--clip-model-cfg', 'tinyclip-synthetic', '--clip-pretrained',
              CHECKPOINT, '--template', templates[0], '--template',
              templates[1], '--topk', '3', '--json']
    proc = run_tool([PREDICT, '--classes-file', str(names_file)] + images
                    + common, str(tmp_path))
    _check(proc.stdout, images, expected)
    # an open_clip model config as a JSON file, the tiny CLIP's
    from mmltml.models.utils.tiny_clip import TINY_CLIP_CFG
    cfg_file = tmp_path / 'tiny_clip.json'
    cfg_file.write_text(json.dumps(TINY_CLIP_CFG))
    common[1] = str(cfg_file)
    argv = ['--classes', ' , '.join(NAMES)] + images + common
    predict = _predict_module()
    assert predict.zero_shot_requested(argv)
    capsys.readouterr()
    predict.zero_shot_main(argv)
    _check(capsys.readouterr().out, images, expected)


def test_names_file_formats_and_errors(tmp_path):
    plain = tmp_path / 'plain.txt'
    plain.write_text('traffic light\n\ncat\r\n  dog  \n')
    assert read_class_names_file(str(plain)) == ['traffic light', 'cat',
                                                 'dog']
    labels = tmp_path / 'labels.txt'
    labels.write_text('dog 1\ntraffic light 0\n')
    assert read_class_names_file(str(labels)) == ['traffic light', 'dog']
    duplicate = tmp_path / 'dup.txt'
    duplicate.write_text('cat\ndog\ncat\n')
    with pytest.raises(ValueError, match=r"dup.txt, line 3: duplicate class "
                       r"name 'cat' \(first on line 1\)"):
        read_class_names_file(str(duplicate))
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n \n')
    with pytest.raises(ValueError, match='empty.txt: no class names'):
        read_class_names_file(str(empty))
