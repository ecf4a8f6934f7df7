# Copyright (c) mmltml contributors. All rights reserved.
"""The root ``model-index.yml`` imports every metafile, and every model it
lists points at an existing config, parsed with the library mmpretrain's
ModelHub uses."""
import glob
import os.path as osp

import yaml
from modelindex.load_model_index import load

from tests._tiny_setup import REPO_ROOT


def test_model_index_covers_every_metafile_and_config():
    index_file = osp.join(REPO_ROOT, 'model-index.yml')
    with open(index_file) as f:
        imported = set(yaml.safe_load(f)['Import'])
    metafiles = {
        osp.relpath(p, REPO_ROOT)
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'metafile.yml'))
    }
    assert imported == metafiles

    model_index = load(index_file)
    model_index.build_models_with_collections()
    names = [m.name for m in model_index.models]
    assert len(names) == len(set(names)), 'duplicate model names'
    for model in model_index.models:
        assert osp.isfile(osp.join(REPO_ROOT, model.config)), model.config
        assert osp.basename(model.config)[:-3] == model.name
        assert model.in_collection, model.name


def test_synthetic_readme_table_matches_metafile():
    """The measured results are written in two places; they must agree."""
    from mmltml.benchmarks.leaderboard import read_block
    folder = osp.join(REPO_ROOT, 'configs', 'synthetic')
    with open(osp.join(folder, 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    with open(osp.join(folder, 'README.md')) as f:
        table = read_block(f.read(), 'Synthetic-LT')
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        rows[cells[2].strip('`')[:-len('.py')]] = [
            float(cell.split(' ± ')[0]) for cell in cells[4:8]]
    assert rows.keys() == {m['Name'] for m in models}
    for model in models:
        metrics = model['Results'][0]['Metrics']
        assert rows[model['Name']] == [
            metrics[k] for k in ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
        ], model['Name']


def _index_models():
    model_index = load(osp.join(REPO_ROOT, 'model-index.yml'))
    model_index.build_models_with_collections()
    return model_index.models


def test_every_result_is_multi_label():
    tasks = {r.task for m in _index_models() for r in m.results or []}
    assert tasks == {'Multi-Label Classification'}


def test_mmpretrain_lists_every_model_by_config_name():
    import mmpretrain

    import mmltml  # noqa: F401
    names = {m.name for m in _index_models()}
    assert set(mmpretrain.list_models('*')) >= names
    assert mmpretrain.list_models('*lmpt*') == sorted(
        n for n in names if 'lmpt' in n)
    with_results = {m.name for m in _index_models() if m.results}
    multi_label = set(mmpretrain.list_models(
        task='Multi-Label Classification'))
    assert with_results and with_results <= multi_label


def _synthetic_checkpoint(tmp_path, name):
    """Weights of ``name`` (built by its config, seed 0) and an image."""
    import numpy as np
    import torch
    from mmengine.runner import set_random_seed
    from mmpretrain import get_model
    from PIL import Image
    set_random_seed(0)
    model = get_model(name)
    path = str(tmp_path / 'weights.pth')
    classes = [f'class{i}' for i in range(24)]
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))), path)
    img = str(tmp_path / 'img.png')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(img)
    return path, img, classes


def test_get_and_inference_model_by_name(tmp_path, monkeypatch):
    """A name gives the config's model; ``inference_model`` runs it with the
    multi-label inferencer, with the scores mmpretrain's own
    single-label inferencer computes from the same weights."""
    import numpy as np
    from mmpretrain import ImageClassificationInferencer, inference_model

    import mmltml  # noqa: F401
    monkeypatch.chdir(REPO_ROOT)  # configs use paths relative to the repo
    name = 'resnet18-w16_bce_synthetic'
    path, img, classes = _synthetic_checkpoint(tmp_path, name)
    result = inference_model(name, img, pretrained=path, device='cpu',
                             thr=0.0)
    reference = ImageClassificationInferencer(
        osp.join(REPO_ROOT, 'configs', 'synthetic', name + '.py'),
        pretrained=path, device='cpu')(img)[0]
    np.testing.assert_allclose(result['pred_scores'],
                               reference['pred_scores'], rtol=1e-5)
    assert result['pred_classes'][0] == reference['pred_class']
    assert set(result['pred_classes']) == set(classes)  # thr=0


def test_sdist_ships_mim_extension(tmp_path):
    """``setup.py sdist`` puts configs, tools and the model index into
    ``mmltml/.mim``, where mim and the model hub of an installed mmltml
    look (built from a copy of the committed tree)."""
    import subprocess
    import sys
    import tarfile
    src = tmp_path / 'src'
    src.mkdir()
    archive = subprocess.run(['git', 'archive', 'HEAD'], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(src)], input=archive, check=True)
    subprocess.run([sys.executable, 'setup.py', '-q', 'sdist', '-d',
                    str(tmp_path / 'dist')], cwd=src, check=True,
                   capture_output=True)
    [sdist] = (tmp_path / 'dist').iterdir()
    with tarfile.open(sdist) as tar:
        names = {n.split('/', 1)[1] for n in tar.getnames() if '/' in n}
    expected = {'mmltml/.mim/model-index.yml', 'mmltml/.mim/tools/train.py',
                'mmltml/.mim/tools/test.py'}
    expected |= {
        'mmltml/.mim/' + osp.relpath(p, REPO_ROOT)
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py'))}
    assert expected <= names, sorted(expected - names)[:5]
