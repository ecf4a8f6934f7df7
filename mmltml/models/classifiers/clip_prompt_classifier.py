# Copyright (c) mmltml contributors. All rights reserved.
"""ImageClassifier that hands its head the inputs its config names."""
from typing import Dict, List, Optional

import torch
from mmengine.model import ModuleDict
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.frozen_image_encoder import (CachesImageFeatures,
                                                    FrozenImageEncoder,
                                                    module_fingerprint)
from mmltml.structures.head_inputs import check_head_inputs
from ..data_preprocessors import CachedFeaturePreprocessor


@MODELS.register_module()
class CLIPPromptClassifier(ImageClassifier, CachesImageFeatures):
    """``ImageClassifier`` for :class:`CLIPPromptBackbone` +
    :class:`CLIPPromptHead` (and any head that takes extra inputs).

    The addition is the head's extra training inputs
    (:mod:`mmltml.structures.head_inputs`): ``head_inputs`` names, by
    keyword of ``head.loss``, the provider of each
    (:mod:`mmltml.models.head_inputs`), e.g. the captions of LMPT's CSE
    loss::

        head_inputs=dict(captions=dict(type='CaptionFeaturesInput'))

    At every training step each provider computes its value (a named
    tuple) from this classifier, the batch inputs and the data samples,
    and ``head.loss`` receives it under its keyword (providers are
    submodules: ``init_weights`` reaches them, their state is saved). What
    the head requests
    (:class:`~mmltml.structures.head_inputs.RequestsHeadInputs`) is checked
    against the config at construction. Prediction takes no extra inputs.
    The backbone stays a backbone and the head stays a head.

    The default ``data_preprocessor`` is :class:`CachedFeaturePreprocessor`
    (mmpretrain's, plus cached image features ``dict(image_feats=...)``);
    with it, the frozen CLIP image tower is offered for caching
    (:meth:`frozen_image_encoder`).

    Args:
        head_inputs (dict, optional): Keyword of ``head.loss`` -> config of
            a registered provider. Defaults to None (no extra inputs).
        *args, **kwargs: Arguments of mmpretrain's ``ImageClassifier``.
    """

    def __init__(self, *args, data_preprocessor: Optional[dict] = None,
                 head_inputs: Optional[Dict[str, dict]] = None,
                 **kwargs) -> None:
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'CachedFeaturePreprocessor')
        super().__init__(*args, data_preprocessor=data_preprocessor,
                         **kwargs)
        self.head_inputs = ModuleDict({
            name: MODELS.build(cfg)
            for name, cfg in (head_inputs or {}).items()
        })
        check_head_inputs(self.head, {
            name: provider.output_type
            for name, provider in self.head_inputs.items()
        })

    def frozen_image_encoder(
            self, training: bool) -> Optional[FrozenImageEncoder]:
        """The data pre-processor and the backbone's image tower, as one
        step computes image features; None when the tower is trainable or
        the pre-processor cannot take cached features.

        Raises:
            ValueError: when the pre-processor applies image operations
                (padding; batch augments such as Mixup in training).
        """
        tower = self.backbone.image_encoder
        if not isinstance(self.data_preprocessor, CachedFeaturePreprocessor) \
                or any(p.requires_grad for p in tower.parameters()):
            return None
        self.data_preprocessor.check_feature_batch(training)

        @torch.no_grad()
        def encode(batch: dict) -> torch.Tensor:
            images = self.data_preprocessor(batch, False)['inputs']
            return self.backbone.encode_image(images)

        def fingerprint() -> str:  # the tower's weights, the normalisation
            norm = [self.data_preprocessor.to_rgb] + [
                getattr(self.data_preprocessor, name).flatten().tolist()
                for name in ('mean', 'std')
                if hasattr(self.data_preprocessor, name)
            ]
            return module_fingerprint(tower, extra=repr(norm))

        return FrozenImageEncoder(encode, self.backbone.feature_dim,
                                  fingerprint)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """The head's losses, given the extra inputs of ``head_inputs``."""
        feats = self.extract_feat(inputs)
        extra = {
            name: provider(self, inputs, data_samples)
            for name, provider in self.head_inputs.items()
        }
        return self.head.loss(feats, data_samples, **extra)
