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
    import re
    folder = osp.join(REPO_ROOT, 'configs', 'synthetic')
    with open(osp.join(folder, 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    with open(osp.join(folder, 'README.md')) as f:
        readme = f.read()
    row = re.compile(r'\| `(\S+)\.py` \|[^|]*\|((?: [\d.]+ ± [\d.]+ \|){4})$')
    rows = {}
    for line in readme.splitlines():
        match = row.match(line)
        if match:
            rows[match.group(1)] = [
                float(v) for v in re.findall(r'([\d.]+) ±', match.group(2))]
    assert rows.keys() == {m['Name'] for m in models}
    for model in models:
        metrics = model['Results'][0]['Metrics']
        assert rows[model['Name']] == [
            metrics[k] for k in ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
        ], model['Name']
