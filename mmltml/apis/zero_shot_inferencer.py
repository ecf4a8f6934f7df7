# Copyright (c) mmltml contributors. All rights reserved.
"""Zero-shot multi-label predictions for any class names, without a config."""
import copy
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.config import Config

from ..models.backbones.clip_prompt_backbone import CLIPPromptBackbone
from ..models.classifiers import CLIPPromptClassifier
from .multi_label_inferencer import MultiLabelInferencer

#: The templates of the zero-shot configs (``configs/clip/*zeroshot*``).
DEFAULT_TEMPLATES = ('a photo of a {}.', )


def clip_preprocessing(clip) -> Tuple[Tuple[int, int], List[float],
                                      List[float]]:
    """``(height, width)``, mean and std (0-255 units) of an open_clip
    model's images, from open_clip's own preprocessing config of the model
    (``open_clip.get_model_preprocess_cfg``; its defaults, OpenAI CLIP's
    normalisation, for models built from a config dict)."""
    from open_clip.model import get_model_preprocess_cfg
    from open_clip.transform import PreprocessCfg
    cfg = PreprocessCfg(**get_model_preprocess_cfg(clip))
    size = cfg.size if isinstance(cfg.size, (tuple, list)) \
        else (cfg.size, cfg.size)
    return (tuple(int(s) for s in size), [255 * m for m in cfg.mean],
            [255 * s for s in cfg.std])


def zero_shot_config(classnames: Sequence[str],
                     clip_model_name: Optional[str] = None,
                     clip_pretrained: Optional[str] = None,
                     clip_model_cfg: Union[dict, str, None] = None,
                     templates: Sequence[str] = DEFAULT_TEMPLATES,
                     image_size: Tuple[int, int] = (224, 224),
                     mean: Sequence[float] = (122.770938, 116.7460125,
                                              104.09373615),
                     std: Sequence[float] = (68.5005327, 66.6321579,
                                             70.32316305)) -> Config:
    """The model and test pipeline of a zero-shot CLIP config
    (``configs/clip/clip_*_zeroshot_*.py``) for the given classes: the
    class texts are the templates' features averaged per class
    (:class:`CLIPPromptBackbone` with ``prompt_learner=None``), and images
    are resized to ``image_size`` (``(height, width)``; PIL bilinear, as
    the CLIP dataset configs) and normalised with ``mean`` / ``std``.
    ``Config.dump`` writes it as a config file for ``tools/test.py``."""
    height, width = image_size
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(width, height), interpolation='bilinear',
             backend='pillow'),
        dict(type='PackInputs'),
    ]
    return Config(dict(
        custom_imports=dict(imports=['mmltml'], allow_failed_imports=False),
        default_scope='mmpretrain',
        model=dict(
            type='CLIPPromptClassifier',
            backbone=dict(
                type='CLIPPromptBackbone', classnames=list(classnames),
                clip_model_name=clip_model_name,
                clip_pretrained=clip_pretrained,
                clip_model_cfg=copy.deepcopy(clip_model_cfg),
                prompt_learner=None, templates=list(templates)),
            head=dict(type='CLIPPromptHead'),
            data_preprocessor=dict(
                num_classes=len(classnames), mean=list(mean), std=list(std),
                to_rgb=True, to_onehot=True)),
        test_dataloader=dict(dataset=dict(pipeline=pipeline))))


def build_zero_shot_classifier(classnames: Union[str, Sequence[str]],
                               clip_model_name: Optional[str] = None,
                               clip_pretrained: Optional[str] = None,
                               clip_model_cfg: Union[dict, str, None] = None,
                               templates: Sequence[str] = DEFAULT_TEMPLATES
                               ) -> CLIPPromptClassifier:
    """A zero-shot :class:`CLIPPromptClassifier` for the given classes,
    with its :func:`zero_shot_config` as ``_config``; the open_clip model is
    built (and its weights read) once, and its own preprocessing sets the
    image size and normalisation."""
    backbone = CLIPPromptBackbone(
        classnames, clip_model_name=clip_model_name,
        clip_pretrained=clip_pretrained, clip_model_cfg=clip_model_cfg,
        prompt_learner=None, templates=templates)
    size, mean, std = clip_preprocessing(backbone.clip)
    cfg = zero_shot_config(backbone.classnames, clip_model_name,
                           clip_pretrained, clip_model_cfg, templates, size,
                           mean, std)
    model = CLIPPromptClassifier(
        backbone=backbone, head=cfg.model.head.to_dict(),
        data_preprocessor=cfg.model.data_preprocessor.to_dict())
    model._config = cfg
    model._dataset_meta = dict(classes=tuple(backbone.classnames))
    return model


class ZeroShotInferencer(MultiLabelInferencer):
    """Ranked labels with logits for arbitrary class names, zero-shot.

    The model is the one of the zero-shot configs
    (``configs/clip/clip_*_zeroshot_*.py``), built for the given classes:
    :class:`CLIPPromptBackbone` with ``prompt_learner=None`` (each class's
    text feature is the mean of the normalised features of its
    ``templates``, re-normalised) and :class:`CLIPPromptHead` (logits
    ``exp(logit_scale) * cos(image, text)``, open_clip's). The CLIP is any
    open_clip model: a model name with a pretrained tag or a weights file,
    or a config dict / built-in config name (``'tinyclip-synthetic'``) with
    a weights file. Images are resized to the model's input size as in the
    zero-shot configs and normalised as open_clip normalises for the
    model. Results as :class:`MultiLabelInferencer`'s: with the default
    ``thr=0.5`` every class whose sigmoid reaches 0.5 (with CLIP logits
    usually all of them), ranked by logit.

    Args:
        classnames: class names, a preset ('coco-lt', 'voc-lt') or a label
            file.
        clip_model_name, clip_pretrained, clip_model_cfg: the open_clip
            model, as :class:`CLIPPromptBackbone` takes them.
        templates: prompt templates with ``{}`` for the class name.
        device, thr, topk: as :class:`MultiLabelInferencer`.

    Examples:
        >>> from mmltml.apis import ZeroShotInferencer
        >>> infer = ZeroShotInferencer(
        ...     ['blue circle', 'pink square', 'red star', 'green triangle'],
        ...     clip_model_cfg='tinyclip-synthetic',
        ...     clip_pretrained='checkpoints/tinyclip_synthetic.pth',
        ...     templates=['there is a {}.'], topk=2)
        >>> infer('data/synthetic/test/000000.png')[0]['pred_classes']
        ['blue circle', 'pink square']
    """

    def __init__(self,
                 classnames: Union[str, Sequence[str]],
                 clip_model_name: Optional[str] = None,
                 clip_pretrained: Optional[str] = None,
                 clip_model_cfg: Union[dict, str, None] = None,
                 templates: Sequence[str] = DEFAULT_TEMPLATES,
                 device: Optional[str] = None,
                 thr: float = 0.5,
                 topk: Optional[int] = None) -> None:
        model = build_zero_shot_classifier(classnames, clip_model_name,
                                           clip_pretrained, clip_model_cfg,
                                           templates)
        super().__init__(model, pretrained=False, device=device, thr=thr,
                         topk=topk)
