# Copyright (c) mmltml contributors. All rights reserved.
"""The README's results table and the claims made from it are the measured
results of configs/synthetic: means from its metafile, spreads and chance
from its README (where the benchmark command and seeds are recorded)."""
import os.path as osp
import re

import yaml

from tests._markdown import table_rows
from tests._tiny_setup import REPO_ROOT

SYNTHETIC = osp.join(REPO_ROOT, 'configs', 'synthetic')
HEADER = '| method (tiny CLIP / quarter-width ResNet-18) |'
KEYS = ('mAP', 'mAP_head', 'mAP_medium', 'mAP_tail')
#: README row label -> configs/synthetic model name.
ROWS = {
    'zero-shot CLIP, "a photo of a {}."': 'clip_tinyclip_zeroshot_synthetic',
    'CoOp': 'coop_tinyclip_synthetic',
    "**LMPT** (the quickstart's job)": 'lmpt_tinyclip_synthetic',
    'ResNet, DB-Focal': 'resnet18-w16_db-focal_synthetic',
    'CPRFL': 'cprfl_resnet18-w16_synthetic',
}
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


def _synthetic_readme():
    """(mean, std) per metric of each config, and chance, from
    configs/synthetic/README.md."""
    text = _read(osp.join(SYNTHETIC, 'README.md'))
    rows = {}
    for cells in table_rows(text, '| config | method | total |'):
        name = cells[0].strip('`')[:-len('.py')]
        rows[name] = [tuple(float(v) for v in cell.split(' ± '))
                      for cell in cells[2:]]
    chance = re.search(r'Chance \(the mean positive rate of the test split\)'
                       r' is ([\d.]+)\.', text)
    return rows, float(chance.group(1))


def test_readme_table_is_the_measured_synthetic_results():
    readme = _read(osp.join(REPO_ROOT, 'README.md'))
    rows = table_rows(readme, HEADER)
    means, (spreads, chance) = _means(), _synthetic_readme()
    assert rows[0] == ['chance', f'{chance:.2f}', '', '', '']
    assert [cells[0] for cells in rows[1:]] == list(ROWS)
    for cells in rows[1:]:
        name = ROWS[cells[0]]
        measured = spreads[name]
        assert [m for m, _ in measured] == means[name], name
        if all(s == 0 for _, s in measured):  # deterministic: no spread
            expected = [f'{m:.2f}' for m, _ in measured]
        else:
            expected = [f'{m:.2f} ± {s:.2f}' for m, s in measured]
        assert cells[1:] == expected, name


def test_readme_claims_follow_from_the_measured_results():
    readme = ' '.join(_read(osp.join(REPO_ROOT, 'README.md')).split())
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
