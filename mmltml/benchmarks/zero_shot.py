# Copyright (c) mmltml contributors. All rights reserved.
"""Zero-shot mAP of a CLIP on the synthetic benchmark's test split, total
and per head / medium / tail group of the training counts."""
import json
import os.path as osp
from typing import Dict

import numpy as np
import torch
from PIL import Image

from mmltml.datasets import parse_list_file
from mmltml.evaluation import classwise_average_precision
from mmltml.models.utils.clip_loader import build_tokenizer
from mmltml.models.utils.tiny_clip import TINY_CLIP_CFG
from mmltml.structures import split_groups
from .pretrain_pairs import normalise
from .synthetic import class_names

TEMPLATE = 'a photo of a {}.'


class ZeroShotBenchmark:
    """The benchmark's test split and training-count groups
    (:func:`~mmltml.structures.split_groups` of ``meta.json``'s
    ``train_class_counts``), held in memory."""

    def __init__(self, root: str) -> None:
        with open(osp.join(root, 'meta.json')) as f:
            counts = json.load(f)['train_class_counts']
        self.groups = split_groups(counts)
        paths, label_ids = parse_list_file(osp.join(root, 'test.txt'),
                                           len(counts))
        self.labels = np.zeros((len(paths), len(counts)))
        for row, ids in enumerate(label_ids):
            self.labels[row, ids] = 1
        self.images = torch.from_numpy(
            np.stack([
                np.asarray(Image.open(osp.join(root, path)).convert('RGB'))
                for path in paths
            ])).permute(0, 3, 1, 2)
        self.tokenizer = build_tokenizer(model_cfg=TINY_CLIP_CFG)

    @property
    def chance(self) -> float:
        """mAP of random scores: the mean positive rate over classes."""
        return float(self.labels.mean())

    @torch.no_grad()
    def zero_shot(self, model: torch.nn.Module,
                  template: str = TEMPLATE) -> Dict[str, float]:
        """Zero-shot mAP (total and per group) of the cosine scores of an
        open_clip ``CLIP``, per-class AP by
        :func:`~mmltml.evaluation.classwise_average_precision`."""
        was_training = model.training
        model.eval()
        prompts = self.tokenizer(
            [template.format(name) for name in class_names()])
        text = model.encode_text(prompts, normalize=True)
        image = torch.cat([
            model.encode_image(normalise(chunk.float()), normalize=True)
            for chunk in self.images.split(512)
        ])
        model.train(was_training)
        scores = (image @ text.t()).numpy()
        ap = classwise_average_precision(scores, self.labels)
        result = dict(mAP=ap.mean())
        result.update({g: ap[idx].mean() for g, idx in self.groups.items()})
        return {k: round(float(v), 4) for k, v in result.items()}
