# Copyright (c) mmltml contributors. All rights reserved.
"""Multi-label predictions (class names and scores) for images."""
import copy
import os.path as osp
from typing import (Callable, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.structures import DataSample
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import VisionTransformer

from ..datasets.image_check import (describe_size, find_image_problem,
                                    image_size, is_out_of_memory)
from ..engine.checkpoint_fit import load_checked_checkpoint
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
                                 ) -> Tuple[Union[str, Config, nn.Module],
                                            Optional[str]]:
    """The model and the checkpoint to load: ``pretrained``, or the
    config's ``load_from`` for ``True`` (None for ``False``, and for model
    names, whose weights mmpretrain resolves).

    A config comes back with the class statistics of the checkpoint in
    place of a missing training list file (see
    :mod:`mmltml.utils.checkpoint_stats`); the config file is read once.
    Built models, model names and configs without a checkpoint are
    returned unchanged."""
    cfg = (Config.fromfile(model)
           if isinstance(model, str) and osp.isfile(model) else model)
    if not isinstance(cfg, Config):
        return model, pretrained if isinstance(pretrained, str) else None
    checkpoint = pretrained if isinstance(pretrained, str) else (
        cfg.get('load_from') if pretrained else None)
    if not checkpoint:
        return model, None
    cfg = copy.deepcopy(cfg)  # never edit the caller's config
    apply_checkpoint_class_stats(cfg, checkpoint)
    return cfg, checkpoint


#: Transforms after which every image has a bounded size.
SIZING_TRANSFORMS = ('Resize', 'ResizeEdge', 'RandomResize',
                     'RandomResizedCrop', 'CenterCrop', 'RandomCrop',
                     'EfficientNetCenterCrop', 'EfficientNetRandomCrop')


class ImagePrediction(NamedTuple):
    """The prediction of one image (:meth:`MultiLabelInferencer.
    predict_each`): ``result`` (as ``MultiLabelInferencer.__call__`` gives
    it) or, if the image could not be predicted, ``error``: why, as a
    predicate for ``f'image {image} {error}'``."""
    image: str
    result: Optional[dict]
    error: Optional[str]


def model_input_size(model: nn.Module) -> Optional[Tuple[int, int]]:
    """``(height, width)`` of the only input an image tower of ``model``
    takes: open_clip's ``ModifiedResNet`` (attention pooling) and
    ``VisionTransformer`` (positional embeddings) take their
    ``image_size`` only. None for models without such a tower."""
    for module in model.modules():
        if isinstance(module, (ModifiedResNet, VisionTransformer)):
            size = module.image_size
            return (size, size) if isinstance(size, int) else tuple(size)
    return None


def with_prediction_resize(pipeline: list,
                           input_size: Optional[Tuple[int, int]]
                           ) -> Tuple[list, Optional[str]]:
    """A test pipeline that resizes every image to ``input_size`` when it
    has no transform of :data:`SIZING_TRANSFORMS` (configs of datasets
    whose images all have one size), and a note saying so (None when the
    pipeline is kept as it is)."""
    types = [t.get('type') for t in pipeline]
    if input_size is None or any(t in SIZING_TRANSFORMS for t in types):
        return pipeline, None
    height, width = input_size
    at = types.index('LoadImageFromFile') + 1 \
        if 'LoadImageFromFile' in types else 0
    resize = dict(type='Resize', scale=(width, height),
                  interpolation='bilinear')
    note = (f'the test pipeline has no Resize: images are resized to '
            f'{width} x {height} px for prediction (the input size of the '
            "model's image tower)")
    return pipeline[:at] + [resize] + pipeline[at:], note


def describe_image_failure(image: str, error: Exception) -> str:
    """Why ``image`` could not be predicted, as a predicate for
    ``f'image {image} {...}'``: ``cannot be predicted (<w> x <h> px):
    <error>``, with what to do when it ran out of memory."""
    what = f'cannot be predicted ({describe_size(image_size(image))})'
    cause = f'{type(error).__name__}: {str(error).strip()}'
    if is_out_of_memory(error):
        return (f'{what}: out of memory ({cause}); use a smaller image or '
                'more memory')
    return f'{what}: {cause}'


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

    A checkpoint that does not fit the model (another class count or CLIP
    model) is refused, naming the keys and shapes
    (:func:`~mmltml.engine.checkpoint_fit.check_checkpoint_fits`). When the
    config's test pipeline does not resize and the model takes one input
    size only (open_clip image towers), images are resized to it for
    prediction; :attr:`resize_note` then says so. :meth:`predict_each`
    predicts images one by one, so that one image that fails (too small
    for the model, too large for the memory, undecodable) is reported by
    name and size and the others are still predicted.

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
        model, checkpoint = _with_checkpoint_class_stats(model, pretrained)
        super().__init__(model, pretrained=False if checkpoint else
                         pretrained, device=device, **kwargs)
        if checkpoint:
            self._load_checked(checkpoint, kwargs.get('classes'))
        if self.classes is None:
            self.classes = getattr(getattr(self.model, 'backbone', None),
                                   'classnames', None)
        if isinstance(getattr(self.model, 'head', None), nn.Module):
            record_head_logits(self.model)
        self.thr, self.topk = thr, topk

    def _load_checked(self, checkpoint: str,
                      classes: Optional[Sequence[str]]) -> None:
        """Load ``checkpoint`` if it fits the model (a misfit is refused,
        naming the keys and shapes: :func:`~mmltml.engine.checkpoint_fit.
        load_checked_checkpoint`), keeping its dataset meta (class names)
        as mmpretrain's ``get_model`` does."""
        loaded = load_checked_checkpoint(self.model, checkpoint, self.config)
        meta = loaded.get('meta') or {}
        if 'dataset_meta' in meta:
            self.model._dataset_meta = meta['dataset_meta']
        if classes is None:
            self.classes = getattr(self.model, '_dataset_meta',
                                   {}).get('classes')

    def _init_pipeline(self, cfg: Config) -> Callable:
        """mmpretrain's pipeline from the test pipeline, found also inside
        dataset wrappers (e.g. :class:`CachedFeatureDataset`), with a
        ``Resize`` to the model's input size if it has one and the
        pipeline does not resize (see :attr:`resize_note`)."""
        cfg = copy.deepcopy(cfg)  # Config.copy() shares the nested dicts
        pipeline, self.resize_note = with_prediction_resize(
            get_test_pipeline_cfg(cfg), model_input_size(self.model))
        cfg.test_dataloader.dataset = dict(pipeline=pipeline)
        return super()._init_pipeline(cfg)

    def predict_each(self, images: Sequence[str]
                     ) -> Iterator[ImagePrediction]:
        """Predict image files one by one, in order.

        An image that cannot be predicted yields an
        :class:`ImagePrediction` with ``error`` (naming the image, its size
        and the cause) instead of stopping the others: a missing, empty,
        undecodable or truncated file (:func:`~mmltml.datasets.
        find_image_problem`), an image the model cannot take (e.g. 1 x 1
        px into a network that pools it away), or one too large for the
        memory.
        """
        for image in images:
            problem = find_image_problem(image)
            if problem is not None:
                yield ImagePrediction(image, None, problem)
                continue
            try:
                data = next(self.preprocess([image]))
                result = self.postprocess(self.forward(data), None)[0]
            except Exception as error:  # one image never stops the others
                yield ImagePrediction(image, None,
                                      describe_image_failure(image, error))
            else:
                yield ImagePrediction(image, result, None)

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
