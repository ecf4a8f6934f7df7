# Copyright (c) mmltml contributors. All rights reserved.
"""The README's results table and the claims made from it are the measured
results of configs/synthetic: the table of README.md and of
configs/synthetic/README.md is what ``benchmark_table.py`` renders from the
run's record (``configs/synthetic/results.json``: every seed's metrics),
and the metafile's results are the means of that record."""
import importlib.util
import json
import os.path as osp
import re

import numpy as np
import yaml

from mmltml.benchmarks.leaderboard import read_block
from tests._tiny_setup import REPO_ROOT

SYNTHETIC = osp.join(REPO_ROOT, 'configs', 'synthetic')
RECORD = osp.join(SYNTHETIC, 'results.json')
KEYS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
THERE_IS = 'clip_tinyclip_zeroshot-there-is_synthetic'
TRAINED_PROMPTS = ('coop_tinyclip_synthetic', 'lmpt_tinyclip_synthetic',
                   'lmpt_tinyclip_token-cse_synthetic',
                   'lmpt_tinyclip_ctx-there-is_synthetic')


def _read(path):
    with open(path) as f:
        return f.read()


def _means():
    models = yaml.safe_load(_read(osp.join(SYNTHETIC, 'metafile.yml')))
    return {m['Name']: [m['Results'][0]['Metrics'][k] for k in KEYS]
            for m in models['Models']}


def _tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                    'benchmark_table.py')
    spec = importlib.util.spec_from_file_location('benchmark_table', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_the_leaderboard_of_the_record():
    table = _tool().main(['--from-record', RECORD])
    for path in ('README.md', 'configs/synthetic/README.md'):
        assert read_block(_read(osp.join(REPO_ROOT, path)),
                          'Synthetic-LT') == table, path


def test_record_is_three_seeds_of_every_config_and_the_metafile_means():
    record = json.loads(_read(RECORD))
    assert record['benchmark'] == 'Synthetic-LT'
    assert '--benchmark Synthetic-LT --seeds 0 1 2' in record['command']
    means = _means()
    assert set(record['runs']) == set(means)
    for name, run in record['runs'].items():
        assert run['config'] == f'configs/synthetic/{name}.py'
        assert len(run['metrics']) == 3, name
        values = np.array([[seed[k] for k in KEYS] for seed in run['metrics']])
        assert [float(f'{v:.2f}') for v in values.mean(0)] == means[name], (
            name)


def test_readme_claims_follow_from_the_measured_results():
    readme = ' '.join(_read(osp.join(REPO_ROOT, 'README.md')).split())
    synthetic = ' '.join(_read(osp.join(SYNTHETIC, 'README.md')).split())
    means = _means()
    zero_shot = means['clip_tinyclip_zeroshot_synthetic']
    lmpt, coop = means['lmpt_tinyclip_synthetic'], means[
        'coop_tinyclip_synthetic']
    assert 'LMPT improves total and tail mAP over zero-shot CLIP' in readme
    assert lmpt[0] > zero_shot[0] and lmpt[3] > zero_shot[3]
    assert 'it does not beat CoOp here' in readme
    assert lmpt[0] < coop[0]
    claim = re.search(r'\("there is a \{\}\.", ([\d.]+) zero-shot\) beats '
                      r'every trained prompt', readme)
    assert claim and float(claim.group(1)) == means[THERE_IS][0]
    assert means[THERE_IS][0] > max(means[n][0] for n in TRAINED_PROMPTS)
    # both READMEs state the same chance level
    pattern = (r'[Cc]hance \(the mean positive rate of the test split\) is '
               r'(\d+\.\d+)')
    assert re.search(pattern, readme).group(1) == re.search(
        pattern, synthetic).group(1)
