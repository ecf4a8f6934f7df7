# Copyright (c) mmltml contributors. All rights reserved.
"""Workspace, weights, configs and measured tool runs of the real-scale
test tier.

The headline configs run at full size (CLIP ViT-B/16 at 224 px, ResNet-101
at 448 px) with random weights and CLIP's logit scale (100), on stand-in
COCO-sized JPEGs listed like the official COCO-LT / VOC-LT files:

* with the official files (``tests/conftest.py``'s ``LTML_DIR``): their
  label file, whole training list (so the class statistics and the
  head / medium / tail groups are the real ones) and caption file, and a
  few dozen lines of the test list chosen to cover many classes;
* without them (a fresh clone): files in the same formats generated from
  the official per-class training counts (``tests/test_datasets/
  ltml_counts.py``).

Only the first ``num_train`` training images are used (the dataset's
``indices``) and only those and the test images are written.
"""
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

from mmltml.datasets.categories import COCO_LT_CLASSES, VOC_LT_CLASSES
from mmltml.utils.stand_in_images import (COCO_IMAGE_SIZES,
                                          write_stand_in_jpeg)
from tests._tiny_setup import LTML_FILES, REPO_ROOT
from tests.test_datasets import ltml_counts

#: CLIP's temperature exp(logit_scale) of the OpenAI / LAION weights.
CLIP_LOGIT_SCALE = 100.0
DATASETS = dict(
    coco=dict(classes=COCO_LT_CLASSES, counts=ltml_counts.COCO_TRAIN,
              train_fmt='train2017/{:012d}.jpg',
              test_fmt='val2017/{:012d}.jpg', sentences=5),
    voc=dict(classes=VOC_LT_CLASSES, counts=ltml_counts.VOC_TRAIN,
             train_fmt='VOCdevkit/VOC2012/JPEGImages/2008_{:06d}.jpg',
             test_fmt='VOCdevkit/VOC2007/JPEGImages/{:06d}.jpg',
             sentences=1))
WORDS = ('a', 'the', 'of', 'on', 'with', 'next', 'to', 'in', 'small',
         'white', 'sitting', 'standing', 'near', 'table', 'street', 'room')


# ---------------------------------------------------------------------------
# list files
# ---------------------------------------------------------------------------
def _read_lines(path: str) -> List[str]:
    with open(path, newline='') as f:
        return [line for line in f.read().splitlines() if line.strip()]


def covering_lines(lines: Sequence[str], num: int) -> List[str]:
    """``num`` lines: first those adding a class not yet covered, then the
    remaining lines in order; one unlabelled line (the official test lists
    have some) is kept if there is one."""
    unlabelled = [line for line in lines if len(line.split()) == 1][:1]
    chosen, covered = [], set()
    for line in lines:
        labels = set(line.split()[1:])
        if len(chosen) < num - len(unlabelled) and labels - covered:
            chosen.append(line)
            covered |= labels
    rest = [line for line in lines if line not in chosen and line.split()[1:]]
    chosen += rest[:num - len(unlabelled) - len(chosen)]
    return chosen + unlabelled


def _caption(rng: np.random.Generator, names: Sequence[str],
             sentences: int) -> str:
    out = []
    for _ in range(sentences):
        words = rng.choice(WORDS, 8).tolist()
        out.append(' '.join(words[:4] + [rng.choice(names)] + words[4:]) +
                   '.')
    return ' '.join(out)


def generated_lists(name: str, num_test: int,
                    seed: int = 0) -> Dict[str, List[str]]:
    """Label, train, test and caption lines in the official formats, with
    the official per-class training counts."""
    spec = DATASETS[name]
    classes, counts = spec['classes'], spec['counts']
    rng = np.random.default_rng(seed)
    num_images = 2 * max(counts)
    labels = [[] for _ in range(num_images)]
    for cls, count in enumerate(counts):
        for i in rng.choice(num_images, count, replace=False):
            labels[i].append(cls)
    labels = [sorted(ls) for ls in labels if ls]
    train = [
        spec['train_fmt'].format(100 + i) + ' ' +
        ' '.join(map(str, ls)) + ' ' for i, ls in enumerate(labels)
    ]
    captions = []
    for line, ls in zip(train, labels):
        names = [classes[c] for c in ls]
        captions.append(line.split()[0] + ' ' +
                        _caption(rng, names, spec['sentences']))
    test = []
    for i in range(num_test - 1):  # every class in turn, plus random ones
        ls = {i % len(classes)} | set(
            rng.choice(len(classes), rng.integers(0, 3)).tolist())
        test.append(spec['test_fmt'].format(100 + i) + ' ' +
                    ' '.join(map(str, sorted(ls))))
    test.append(spec['test_fmt'].format(99))  # unlabelled, as officially
    return dict(
        labels=[f'{c} {i}' for i, c in enumerate(classes)],
        train=train, test=test, captions=captions)


def official_lists(ltml_dir: str, name: str,
                   num_test: int) -> Dict[str, List[str]]:
    """The official files, with ``num_test`` covering test lines."""
    labels, train, test, captions = (
        _read_lines(osp.join(ltml_dir, name, f)) for f in LTML_FILES[name])
    return dict(labels=labels, train=train,
                test=covering_lines(test, num_test), captions=captions)


def make_dataset(root: str, name: str, ltml_dir: Optional[str],
                 num_train: int, num_test: int) -> str:
    """Write ``root/data/<name>`` (list files and the stand-in JPEGs of
    the first ``num_train`` training and all test lines); returns it."""
    out = osp.join(root, 'data', name)
    os.makedirs(out, exist_ok=True)
    official = bool(ltml_dir) and osp.isdir(osp.join(ltml_dir, name))
    if official:
        lists = official_lists(ltml_dir, name, num_test)
    else:
        lists = generated_lists(name, num_test)
    for key, fname in zip(('labels', 'train', 'test', 'captions'),
                          LTML_FILES[name]):
        if official and key != 'test':  # byte for byte (CRLF, spaces)
            shutil.copyfile(osp.join(ltml_dir, name, fname),
                            osp.join(out, fname))
            continue
        with open(osp.join(out, fname), 'w') as f:
            f.write('\n'.join(lists[key]) + '\n')
    rng = np.random.default_rng(1)
    for line in lists['train'][:num_train] + lists['test']:
        size = COCO_IMAGE_SIZES[rng.integers(len(COCO_IMAGE_SIZES))]
        write_stand_in_jpeg(osp.join(out, line.split()[0]), size, rng)
    return out


def train_class_counts(data_dir: str, name: str,
                       num_classes: int) -> np.ndarray:
    """Images per class in the training list (counted here, not by the
    code under test)."""
    counts = np.zeros(num_classes, dtype=np.int64)
    for line in _read_lines(osp.join(data_dir, LTML_FILES[name][1])):
        for label in set(line.split()[1:]):
            counts[int(label)] += 1
    return counts


# ---------------------------------------------------------------------------
# random weights
# ---------------------------------------------------------------------------
def _align_towers(model, tokenizer, cosine: float,
                  generator: torch.Generator) -> None:
    """Shift the image and text features of a random CLIP along one shared
    direction (through the biases of the last LayerNorm of each tower), so
    that image-text cosines average about ``cosine`` as in trained CLIP
    (random towers give cosines near 0, logits of a few units)."""
    with torch.no_grad():
        images = torch.randn(4, 3, *model.visual.image_size,
                             generator=generator)
        texts = tokenizer([f'a photo of a {w}.' for w in WORDS[:8]])
        norm_img = model.encode_image(images).norm(dim=-1).mean()
        norm_txt = model.encode_text(texts).norm(dim=-1).mean()
        shared = torch.randn(model.text_projection.shape[1],
                             generator=generator)
        shared /= shared.norm()
        k = math.sqrt(cosine / (1 - cosine))
        for norm, proj, ln in (
                (norm_img, model.visual.proj, model.visual.ln_post),
                (norm_txt, model.text_projection, model.ln_final)):
            # bias @ proj = k * norm * shared
            ln.bias += (k * norm * shared) @ torch.linalg.pinv(proj)


def write_random_clip(path: str, model_name: str,
                      logit_scale: float = CLIP_LOGIT_SCALE,
                      cosine: Optional[float] = 0.18, seed: int = 0) -> str:
    """Save a randomly initialised open_clip ``model_name`` whose
    temperature exp(logit_scale) is CLIP's, as a local weights file that
    ``clip_pretrained`` accepts. For ViT models, image-text cosines are
    moved to about ``cosine`` (:func:`_align_towers`), so the logits reach
    CLIP's range (20-30) where fp32 sigmoids round to 1.0."""
    import open_clip
    torch.manual_seed(seed)
    model = open_clip.create_model(model_name).eval()
    model.logit_scale.data.fill_(math.log(logit_scale))
    if cosine is not None and hasattr(model.visual, 'ln_post'):
        _align_towers(model, open_clip.get_tokenizer(model_name), cosine,
                      torch.Generator().manual_seed(seed))
    torch.save(model.state_dict(), path)
    return path


# ---------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------
def _cached(loader: dict) -> bool:
    return loader['dataset']['type'] == 'CachedFeatureDataset'


def _loader(base_loader: dict, batch_size: int, cache_dir: str,
            indices: Optional[int] = None) -> dict:
    inner = {} if indices is None else dict(indices=indices)
    if _cached(base_loader):
        dataset = dict(cache_dir=cache_dir, dataset=inner)
    else:
        dataset = inner
    return dict(batch_size=batch_size, num_workers=0, dataset=dataset)


def write_config(path: str, base: str, weights: Dict[str, str],
                 cache_dir: str, num_train: int, train_batch: int,
                 test_batch: int) -> str:
    """A child config of ``base`` (a repository config path) with random
    weights from ``weights`` (open_clip model name -> file), ``num_train``
    training images, one epoch, small loaders and the logit dump hook; the
    model, pipelines, losses, schedule and hooks stay the config's."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, base))
    model = {}
    if cfg.model.backbone.type == 'CLIPPromptBackbone':
        name = cfg.model.backbone.clip_model_name
        model['backbone'] = dict(clip_pretrained=weights[name])
    elif cfg.model.backbone.type == 'CLIPVisionBackbone':
        # HP-DVAL (student, text tower, teacher) and LM-CLIP (both towers):
        # every open_clip part from the random weights of its model
        model.update({
            part: _with_weights(cfg.model[part], weights)
            for part in ('backbone', 'head', 'head_inputs')
            if cfg.model.get(part)})
    else:  # CPRFL: random ResNet, random CLIP for the class prompts
        model['backbone'] = dict(init_cfg=None)
        text = cfg.model.head.text_embeds
        model['head'] = dict(text_embeds=dict(
            clip_pretrained=weights[text.clip_model_name]))
    hooks = [h.to_dict() for h in cfg.get('custom_hooks', [])]
    overrides = dict(
        custom_imports=dict(
            imports=['mmltml', 'tests.test_realscale.logit_dump'],
            allow_failed_imports=False),
        model=model,
        val_dataloader=_loader(cfg.val_dataloader, test_batch, cache_dir),
        test_dataloader=_loader(cfg.test_dataloader, test_batch, cache_dir),
        custom_hooks=hooks + [dict(type='HeadLogitDumpHook')],
        default_hooks=dict(logger=dict(interval=1)))
    if cfg.get('train_dataloader'):
        overrides['train_dataloader'] = _loader(
            cfg.train_dataloader, train_batch, cache_dir, num_train)
        overrides['train_cfg'] = dict(max_epochs=1, val_interval=1)
    text = f'_base_ = [{osp.join(REPO_ROOT, base)!r}]\n'
    text += ''.join(f'{k} = {v!r}\n' for k, v in overrides.items())
    with open(path, 'w') as f:
        f.write(text)
    return path


def _clip_parts(node) -> List[dict]:
    """Every dict of a model config that builds a pretrained open_clip
    model (``clip_model_name`` and ``clip_pretrained``)."""
    if not isinstance(node, dict):
        return []
    parts = [node] if node.get('clip_model_name') and node.get(
        'clip_pretrained') else []
    return parts + [p for v in node.values() for p in _clip_parts(v)]


def _with_weights(node: dict, weights: Dict[str, str]) -> dict:
    """The overrides that give every pretrained open_clip model under
    ``node`` its random weights file (a nested dict of the same keys)."""
    out = {}
    for key, value in node.items():
        if not isinstance(value, dict):
            continue
        if value.get('clip_model_name') and value.get('clip_pretrained'):
            out[key] = dict(clip_pretrained=weights[value.clip_model_name])
        else:
            sub = _with_weights(value, weights)
            if sub:
                out[key] = sub
    if node.get('clip_model_name') and node.get('clip_pretrained'):
        out['clip_pretrained'] = weights[node.clip_model_name]
    return out


def clip_model_names(base: str) -> List[str]:
    """The open_clip models (with ``clip_pretrained``) ``base`` builds."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, base))
    return list(dict.fromkeys(p.clip_model_name
                              for p in _clip_parts(cfg.model)))


# ---------------------------------------------------------------------------
# measured tool runs
# ---------------------------------------------------------------------------
def run_measured(args: List[str], cwd: str,
                 timeout: int = 1800) -> Tuple[str, float, float]:
    """Run a Python tool; returns its output, wall seconds and the peak
    resident memory (MiB) of its process. Fails loudly."""
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.pop('MMLTML_TRUSTED_CHECKPOINTS', None)
    cmd = [sys.executable] + args
    with tempfile.TemporaryFile('w+') as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed ({proc.returncode}):'
                             f'\n{output[-6000:]}')
    return output, seconds, usage.ru_maxrss / 1024
