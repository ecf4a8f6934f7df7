# Copyright (c) mmltml contributors. All rights reserved.
"""The ``--cfg-options`` lines of docs/en/useful_tools.md that switch the
logging backend: parsed by the tools' own parser into the config they
mean (default tier); run through ``tools/train.py`` with TensorBoard and
MLflow, whose records are read back (slow, skipped without the
packages). The tempting list form fails, as the doc says."""
import argparse
import glob
import importlib.util
import os
import os.path as osp
import re
import shlex

import pytest
from mmengine.config import Config
from mmengine.visualization import Visualizer

from mmltml.utils.launch import add_common_args
from tests._tiny_setup import REPO_ROOT, make_tiny_project, run_tool

DOC = osp.join(REPO_ROOT, 'docs', 'en', 'useful_tools.md')
RUNTIME = osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py')


def doc_lines():
    """``{backend type: [cfg-option, ...]}`` of the doc's command lines
    that set ``visualizer.vis_backends``."""
    with open(DOC) as f:
        text = f.read().replace('\\\n', ' ')
    lines = {}
    pattern = r'--cfg-options (visualizer\.vis_backends[^\n]*)'
    for match in re.finditer(pattern, text):
        options = shlex.split(match.group(1))
        backend = options[0].split('=', 1)[1]
        lines[backend] = options
    return lines


def merged(options):
    """The default runtime with ``options`` parsed as the tools parse
    ``--cfg-options``."""
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    args = parser.parse_args(['--cfg-options'] + options)
    cfg = Config.fromfile(RUNTIME)
    cfg.merge_from_dict(args.cfg_options)
    return cfg


def test_doc_lines_give_the_backend_they_name(tmp_path):
    lines = doc_lines()
    assert set(lines) == {'TensorboardVisBackend', 'MLflowVisBackend',
                          'WandbVisBackend'}
    expected = dict(
        TensorboardVisBackend=dict(type='TensorboardVisBackend'),
        MLflowVisBackend=dict(type='MLflowVisBackend', exp_name='mmltml',
                              tracking_uri='sqlite:///work_dirs/mlflow.db'),
        WandbVisBackend=dict(type='WandbVisBackend',
                             init_kwargs=dict(project='mmltml')))
    for name, options in lines.items():
        cfg = merged(options)
        assert cfg.visualizer.vis_backends == [expected[name]], name
        visualizer = Visualizer(name=f'doc_{name}', save_dir=str(tmp_path),
                                vis_backends=cfg.visualizer.vis_backends)
        assert [type(b).__name__ for b in visualizer._vis_backends.values()
                ] == [name]  # built; the package is imported on first use


def test_the_list_form_fails_as_documented():
    tempting = "dict(type='TensorboardVisBackend')"
    cfg = merged([f'visualizer.vis_backends=[{tempting}]'])
    assert cfg.visualizer.vis_backends == [tempting]  # a string
    with pytest.raises(TypeError, match='vis_backends must be a list of '
                       'dicts'):
        Visualizer(name='doc_list_form', save_dir='unused',
                   vis_backends=cfg.visualizer.vis_backends)
    with pytest.raises(KeyError, match='Index 1 exceeds the length'):
        merged(['visualizer.vis_backends.1.type=TensorboardVisBackend'])


def _train(tmp_path, options):
    root = str(tmp_path)
    cfg = make_tiny_project(root, max_epochs=1)
    run_tool([osp.join(REPO_ROOT, 'tools', 'train.py'), cfg, '--work-dir',
              'work', '--cfg-options'] + options, root)
    (log, ) = glob.glob(osp.join(root, 'work', '*', '*.log'))
    with open(log) as f:
        text = f.read()
    mAP = float(re.findall(r'multi-label/mAP: ([\d.]+)', text)[-1])
    return root, mAP


@pytest.mark.slow
def test_tensorboard_line_trains_into_event_files(tmp_path):
    if importlib.util.find_spec('tensorboard') is None:
        pytest.skip('tensorboard is not installed '
                    '(pip install "mmltml[tensorboard]")')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    root, mAP = _train(tmp_path, doc_lines()['TensorboardVisBackend'])
    (events, ) = glob.glob(osp.join(root, 'work', '*', 'vis_data',
                                    'events.out.tfevents.*'))
    assert not glob.glob(osp.join(root, 'work', '*', 'vis_data',
                                  'scalars.json'))  # replaced, not added
    scalars = EventAccumulator(events)
    scalars.Reload()
    assert len(scalars.Scalars('loss')) == 4  # 16 images, batches of 4
    assert scalars.Scalars('multi-label/mAP')[-1].value == pytest.approx(
        mAP, abs=1e-4)


@pytest.mark.slow
def test_mlflow_line_records_the_run(tmp_path):
    if importlib.util.find_spec('mlflow') is None:
        pytest.skip('mlflow is not installed (pip install "mmltml[mlflow]")')
    os.makedirs(tmp_path / 'work_dirs')  # the doc's sqlite:///work_dirs/...
    root, mAP = _train(tmp_path, doc_lines()['MLflowVisBackend'])
    import mlflow
    client = mlflow.MlflowClient(
        tracking_uri=f'sqlite:///{root}/work_dirs/mlflow.db')
    (experiment, ) = [e for e in client.search_experiments()
                      if e.name == 'mmltml']
    (run, ) = client.search_runs([experiment.experiment_id])
    losses = client.get_metric_history(run.info.run_id, 'loss')
    assert [m.step for m in losses] == [1, 2, 3, 4]
    assert run.data.metrics['multi-label/mAP'] == pytest.approx(mAP,
                                                                abs=1e-4)
    assert run.data.params['train_cfg.max_epochs'] == '1'
