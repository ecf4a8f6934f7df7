# Copyright (c) mmltml contributors. All rights reserved.
"""Multi-label predictions (class names and scores) for images."""
import copy
from typing import Callable, List, Optional, Union

import numpy as np
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.structures import DataSample


def get_test_pipeline_cfg(cfg: Config) -> list:
    """The test pipeline, also inside dataset wrappers."""
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset.pipeline


class MultiLabelInferencer(ImageClassificationInferencer):
    """``ImageClassificationInferencer`` with multi-label outputs.

    mmpretrain's inferencer reports the arg-max class only. This one returns,
    per image, every class whose score passes ``thr`` (or the ``topk``
    best), with names and scores, and all scores.

    Args:
        model: a config file / object (or a model name known to mmpretrain),
            or a built model.
        pretrained: a checkpoint to load (weights or a full training-state
            checkpoint; see ``docs/en/compatibility.md``); ``True`` loads the
            config's ``load_from``; ``False`` keeps the weights the config
            builds (e.g. zero-shot CLIP).
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
        super().__init__(model, pretrained=pretrained, device=device,
                         **kwargs)
        if self.classes is None:
            self.classes = getattr(getattr(self.model, 'backbone', None),
                                   'classnames', None)
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
        return [self._result(p.pred_score.detach().cpu().numpy())
                for p in preds]

    def _result(self, scores: np.ndarray) -> dict:
        """Positive classes of one image, best first, with their scores."""
        if self.topk is not None:
            labels = np.argsort(-scores, kind='stable')[:self.topk]
        else:
            labels = np.flatnonzero(scores >= self.thr)
            labels = labels[np.argsort(-scores[labels], kind='stable')]
        result = dict(
            pred_scores=scores,
            pred_labels=labels.tolist(),
            pred_label_scores=scores[labels].tolist())
        if self.classes is not None:
            result['pred_classes'] = [self.classes[i] for i in labels]
        return result
