# Copyright (c) mmltml contributors. All rights reserved.
"""Multi-label predictions (class names and scores) for images."""
import copy
import os.path as osp
from typing import Callable, List, Optional, Union

import numpy as np
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.structures import DataSample

from ..models.heads.logits import PRED_LOGITS, record_head_logits
from ..utils.checkpoint_stats import apply_checkpoint_class_stats


def get_test_pipeline_cfg(cfg: Config) -> list:
    """The test pipeline, also inside dataset wrappers."""
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset.pipeline


def _with_checkpoint_class_stats(model: Union[str, Config, nn.Module],
                                 pretrained: Union[str, bool]
                                 ) -> Union[str, Config, nn.Module]:
    """The config with the class statistics of the checkpoint to load
    (``pretrained``, or the config's ``load_from`` for ``True``) in place
    of a missing training list file (see
    :mod:`mmltml.utils.checkpoint_stats`); the config file is read once.
    Built models, model names and configs without a checkpoint are
    returned unchanged."""
    cfg = (Config.fromfile(model)
           if isinstance(model, str) and osp.isfile(model) else model)
    if not isinstance(cfg, Config):
        return model
    checkpoint = pretrained if isinstance(pretrained, str) else (
        cfg.get('load_from') if pretrained else None)
    if not checkpoint:
        return model
    cfg = copy.deepcopy(cfg)  # never edit the caller's config
    apply_checkpoint_class_stats(cfg, checkpoint)
    return cfg


class MultiLabelInferencer(ImageClassificationInferencer):
    """``ImageClassificationInferencer`` with multi-label outputs.

    mmpretrain's inferencer reports the arg-max class only. This one returns,
    per image, every class whose sigmoid score passes ``thr`` (or the
    ``topk`` best), ranked by their raw logits, with names, scores and
    logits, and all scores and logits:

    - ``pred_scores`` / ``pred_logits``: sigmoid scores and logits of all
      classes (fp32);
    - ``pred_labels``, ``pred_classes``, ``pred_label_scores``,
      ``pred_label_logits``: the positive classes, highest logit first.

    The logits are what tell classes apart (saturated sigmoids tie:
    :mod:`mmltml.models.heads.logits`). mmltml's heads store them
    (``pred_logits``); for other heads the inferencer records them with
    :func:`~mmltml.models.heads.logits.record_head_logits`.

    Args:
        model: a config file / object (or a model name known to mmpretrain),
            or a built model.
        pretrained: a checkpoint to load (weights or a full training-state
            checkpoint; see ``docs/en/compatibility.md``); ``True`` loads the
            config's ``load_from``; ``False`` keeps the weights the config
            builds (e.g. zero-shot CLIP). The training class
            statistics stored in the checkpoint stand in for a missing
            training list file of the config.
        device: where to run, e.g. ``'cpu'`` or ``'cuda:0'`` (default: the
            first GPU if any).
        thr: score threshold of a positive prediction.
        topk: report the ``topk`` best classes instead of thresholding.

    Examples:
        >>> from mmltml.apis import MultiLabelInferencer
        >>> infer = MultiLabelInferencer('configs/lmpt/lmpt_vitb16_coco-lt.py',
        ...                              pretrained='epoch_30.pth')
        >>> infer('your_image.jpg')[0]['pred_classes']
        ['person', 'dining table', 'cup']
    """

    def __init__(self,
                 model: Union[str, Config, nn.Module],
                 pretrained: Union[str, bool] = True,
                 device: Optional[str] = None,
                 thr: float = 0.5, topk: Optional[int] = None,
                 **kwargs) -> None:
        model = _with_checkpoint_class_stats(model, pretrained)
        super().__init__(model, pretrained=pretrained, device=device,
                         **kwargs)
        if self.classes is None:
            self.classes = getattr(getattr(self.model, 'backbone', None),
                                   'classnames', None)
        if isinstance(getattr(self.model, 'head', None), nn.Module):
            record_head_logits(self.model)
        self.thr, self.topk = thr, topk

    def _init_pipeline(self, cfg: Config) -> Callable:
        """mmpretrain's pipeline from the test pipeline, found also inside
        dataset wrappers (e.g. :class:`CachedFeatureDataset`)."""
        cfg = copy.deepcopy(cfg)  # Config.copy() shares the nested dicts
        cfg.test_dataloader.dataset = dict(
            pipeline=get_test_pipeline_cfg(cfg))
        return super()._init_pipeline(cfg)

    def postprocess(self, preds: List[DataSample], visualization,
                    return_datasamples: bool = False) -> list:
        """One result dict per image (see the class docstring), or the
        data samples with ``return_datasamples``."""
        if return_datasamples:
            return preds
        return [self._result(p) for p in preds]

    def _result(self, sample: DataSample) -> dict:
        """Positive classes of one image, highest logit first, with their
        scores and logits (the scores rank ties when there are no
        logits)."""
        scores = sample.pred_score.detach().cpu().float().numpy()
        logits = (sample.get(PRED_LOGITS).detach().cpu().float().numpy()
                  if PRED_LOGITS in sample else None)
        rank_by = scores if logits is None else logits
        if self.topk is not None:
            labels = np.argsort(-rank_by, kind='stable')[:self.topk]
        else:
            labels = np.flatnonzero(scores >= self.thr)
            labels = labels[np.argsort(-rank_by[labels], kind='stable')]
        result = dict(
            pred_scores=scores,
            pred_labels=labels.tolist(),
            pred_label_scores=scores[labels].tolist())
        if logits is not None:
            result.update(
                pred_logits=logits,
                pred_label_logits=logits[labels].tolist())
        if self.classes is not None:
            result['pred_classes'] = [self.classes[i] for i in labels]
        return result
