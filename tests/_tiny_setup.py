# Copyright (c) mmltml contributors. All rights reserved.
"""Tiny generated images and configs for end-to-end tool tests."""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

import numpy as np
from PIL import Image

from tests._ports import free_port, launch_with_free_port  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RUNTIME = osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py')


def make_images(root: str, num: int, num_classes: int, seed: int,
                size: int = 32) -> List[Dict]:
    """Write ``num`` random images whose colour depends on their labels."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    data = []
    for i in range(num):
        labels = sorted(rng.choice(num_classes, rng.integers(1, 3),
                                   replace=False).tolist())
        img = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
        for label in labels:
            img[:, :, label % 3] += np.uint8(60 + 40 * (label // 3))
        name = f'{i:03d}.png'
        Image.fromarray(img).save(osp.join(root, name))
        data.append(dict(img_path=name, gt_label=labels))
    return data


def write_mmpretrain_ann(path: str, data: List[Dict],
                         num_classes: int) -> None:
    classes = [f'c{i}' for i in range(num_classes)]
    with open(path, 'w') as f:
        json.dump(dict(metainfo=dict(classes=classes), data_list=data), f)


def tiny_classifier_config(data_root: str, loss: Optional[dict] = None,
                           num_classes: int = 4, max_epochs: int = 2) -> str:
    """A tiny mmpretrain multi-label ImageClassifier config as text."""
    loss = loss or dict(type='CrossEntropyLoss', use_sigmoid=True)
    return f"""
_base_ = [{RUNTIME!r}]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3,), norm_cfg=dict(type='BN')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='MultiLabelLinearClsHead', num_classes={num_classes},
              in_channels=64, loss={loss!r}),
    data_preprocessor=dict(num_classes={num_classes}, mean=[127.5] * 3,
                           std=[64.0] * 3, to_rgb=True, to_onehot=True))
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
def loader(ann, shuffle):
    return dict(batch_size=4, num_workers=0,
                dataset=dict(type='MultiLabelDataset', data_root={data_root!r},
                             ann_file=ann, pipeline=pipeline),
                sampler=dict(type='DefaultSampler', shuffle=shuffle))
train_dataloader = loader('train.json', True)
val_dataloader = loader('test.json', False)
test_dataloader = val_dataloader
val_evaluator = dict(type='AveragePrecision')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=1))
custom_hooks = [dict(type='SyncBuffersHook')]
randomness = dict(seed=0, deterministic=True)
"""


def make_tiny_project(root: str, num_classes: int = 4, **kwargs) -> str:
    """Images + annotation files + config under ``root``; returns config."""
    train = make_images(root, 16, num_classes, seed=0)
    test = make_images(osp.join(root, 'test'), 10, num_classes, seed=1)
    for item in test:
        item['img_path'] = osp.join('test', item['img_path'])
    write_mmpretrain_ann(osp.join(root, 'train.json'), train, num_classes)
    write_mmpretrain_ann(osp.join(root, 'test.json'), test, num_classes)
    cfg = osp.join(root, 'tiny_cfg.py')
    with open(cfg, 'w') as f:
        f.write(tiny_classifier_config(root, num_classes=num_classes,
                                       **kwargs))
    return cfg


def run_tool(args: List[str], cwd: str, port: Optional[int] = None,
             timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a tool from the repo with a clean environment; fail loudly.

    With a ``port`` (distributed launches: ``PORT``), a run that failed
    because the port was taken meanwhile is repeated on a new free port
    (:func:`tests._ports.launch_with_free_port`)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    cmd = args if args[0] == 'bash' else [sys.executable] + args

    def launch(port: Optional[int] = None) -> subprocess.CompletedProcess:
        if port is not None:
            env['PORT'] = str(port)
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)

    proc = launch() if port is None else launch_with_free_port(launch, port)
    if proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(cmd)} failed ({proc.returncode}):\n'
            f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


# ---------------------------------------------------------------------------
# A small layout of any benchmark preset: a subset of its official files
# when they are present, else generated files in its formats
# ---------------------------------------------------------------------------
def benchmark_by_root() -> Dict[str, type]:
    """Every benchmark preset (``mmltml.datasets.benchmark_datasets``) by
    the last part of its data root (``'coco'`` for ``data/coco``)."""
    import mmltml.datasets as datasets
    return {osp.basename(cls.DATA_ROOT): cls
            for cls in datasets.benchmark_datasets()}


def _file_tuple(cls) -> tuple:
    files = cls.files()
    return (files.labels, files.train, files.test, files.captions)


#: ``(label, train, test, caption file)`` of each benchmark, by root name.
LTML_FILES = {name: _file_tuple(cls)
              for name, cls in benchmark_by_root().items()}

# A tiny open_clip model that takes the configs' 224 px input.
TINY_CLIP_224 = dict(
    embed_dim=32,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=224),
    text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=2,
                  layers=1))


def _read_lines(path: str) -> List[str]:
    with open(path, newline='') as f:
        return [line for line in f.read().splitlines() if line.strip()]


def _covering_lines(lines: List[str]) -> List[str]:
    """The first line holding each class not yet covered (every class of
    the training split keeps >= 1 image, so statistics stay valid)."""
    chosen, covered = [], set()
    for line in lines:
        labels = set(line.split()[1:])
        if labels - covered:
            chosen.append(line)
            covered |= labels
    return chosen


def _smooth_image(rng: np.random.Generator, height: int,
                  width: int) -> np.ndarray:
    """Random colour blobs (a 3 x 4 grid of colours, bilinearly upsampled):
    unlike pixel noise, its features depend strongly on the image and
    change when it is mirrored."""
    grid = rng.integers(0, 256, (3, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(grid).resize((width, height),
                                                   Image.BILINEAR))


def _official_lists(src: str, cls, num_test: int) -> Dict[str, List[str]]:
    """A covering subset of the official training list, the first test
    lines and their captions."""
    files = cls.files()
    train = _covering_lines(_read_lines(osp.join(src, files.train)))
    lists = {files.train: train,
             files.test: _read_lines(osp.join(src, files.test))[:num_test]}
    if files.captions:
        keep = {line.split()[0] for line in train}
        lists[files.captions] = [
            line for line in _read_lines(osp.join(src, files.captions))
            if line.split(maxsplit=1)[0] in keep]
    return lists


def _generated_lists(cls, num_test: int) -> Dict[str, List[str]]:
    """Label, list and caption lines in the benchmark's formats: every
    class has training images (two labels per image) and the test list
    ends with an unlabelled image."""
    files, classes = cls.files(), cls.METAINFO['classes']
    num = len(classes)
    train_labels = [sorted({i % num, (3 * i + 1) % num})
                    for i in range(max(num, 16))]
    train = [f'images/train/{i:06d}.jpg ' + ' '.join(map(str, labels))
             for i, labels in enumerate(train_labels)]
    test = [f'images/test/{i:06d}.jpg {i % num}' for i in range(num_test - 1)]
    lists = {files.labels: [f'{name} {i}' for i, name in enumerate(classes)],
             files.train: train,
             files.test: test + [f'images/test/{num_test - 1:06d}.jpg']}
    if files.captions:
        lists[files.captions] = [
            line.split()[0] + ' a photo of ' +
            ' and '.join(classes[i] for i in labels)
            for line, labels in zip(train, train_labels)]
    return lists


def make_dataset_fixture(root: str, cls, ltml_dir: Optional[str] = None,
                         num_test: int = 12, smooth: bool = False) -> str:
    """Write ``root/<cls.DATA_ROOT>`` for the benchmark preset ``cls``.

    With the benchmark's official files in ``ltml_dir/<root name>`` (e.g.
    ``ltml_dir/coco``): their label file, a covering subset of the train
    list and its captions, and the first ``num_test`` test lines; else
    generated files in the same formats (see :func:`_generated_lists`).
    The listed images are generated JPEGs (uniform noise, or with
    ``smooth`` random colour blobs). Returns the data root written.
    """
    files = cls.files()
    src = osp.join(ltml_dir or '', osp.basename(cls.DATA_ROOT))
    official = bool(ltml_dir) and osp.isfile(osp.join(src, files.labels))
    out = osp.join(root, cls.DATA_ROOT)
    os.makedirs(out, exist_ok=True)
    if official:
        lists = _official_lists(src, cls, num_test)
        with open(osp.join(src, files.labels), 'rb') as fin, \
                open(osp.join(out, files.labels), 'wb') as fout:
            fout.write(fin.read())
    else:
        lists = _generated_lists(cls, num_test)
    for fname, lines in lists.items():
        with open(osp.join(out, fname), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    rng = np.random.default_rng(0)
    for line in lists[files.train] + lists[files.test]:
        path = osp.join(out, line.split()[0])
        os.makedirs(osp.dirname(path), exist_ok=True)
        img = _smooth_image(rng, 48, 64) if smooth else rng.integers(
            0, 255, (48, 64, 3)).astype(np.uint8)
        Image.fromarray(img).save(path, quality=90)
    return out


def make_ltml_subset(root: str, ltml_dir: str, name: str,
                     num_test: int = 12, smooth: bool = False) -> str:
    """:func:`make_dataset_fixture` of the benchmark whose data root is
    ``data/<name>`` (``'coco'``, ``'voc'``, ...)."""
    return make_dataset_fixture(root, benchmark_by_root()[name], ltml_dir,
                                num_test, smooth)


def smoke_config(path: str, base: str, train: bool = True,
                 **overrides) -> str:
    """A config file inheriting ``base`` with the tiny CLIP and small
    loaders; extra top-level ``overrides`` are appended verbatim."""
    text = f"""
_base_ = [{osp.join(REPO_ROOT, base)!r}]
model = dict(backbone=dict(clip_model_name=None, clip_pretrained=None,
                           clip_model_cfg={TINY_CLIP_224!r}))
val_dataloader = dict(batch_size=8, num_workers=0)
test_dataloader = dict(batch_size=8, num_workers=0)
default_hooks = dict(logger=dict(interval=1))
"""
    if train:
        text += 'train_dataloader = dict(batch_size=8, num_workers=0)\n'
    text += ''.join(f'{k} = {v!r}\n' for k, v in overrides.items())
    with open(path, 'w') as f:
        f.write(text)
    return path
