# Copyright (c) mmltml contributors. All rights reserved.
"""ImageClassifier that hands the batch's captions to the prompt head."""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.structures.frozen_image_encoder import (CachesImageFeatures,
                                                    FrozenImageEncoder,
                                                    module_fingerprint)
from ..data_preprocessors import CachedFeaturePreprocessor


@MODELS.register_module()
class CLIPPromptClassifier(ImageClassifier, CachesImageFeatures):
    """``ImageClassifier`` for :class:`CLIPPromptBackbone` +
    :class:`CLIPPromptHead`.

    The only addition is the caption path of the CSE loss: when the head
    needs captions, the captions carried by the data samples (``caption``,
    from the dataset's caption file via ``PackInputs(algorithm_keys=
    ['caption'])``) are embedded by the backbone's frozen text encoder,
    through its cache (``'encoder'`` space) or its token embedding
    (``'token'`` space), and passed to ``head.loss``. The backbone stays a
    backbone and the head stays a head.

    The default ``data_preprocessor`` is :class:`CachedFeaturePreprocessor`
    (mmpretrain's, plus cached image features ``dict(image_feats=...)``);
    with it, the frozen CLIP image tower is offered for caching
    (:meth:`frozen_image_encoder`).

    Args:
        caption_max_chars (int, optional): Keep only the first
            ``caption_max_chars`` characters of each caption line (after
            collapsing runs of whitespace), as LMPT's released code does
            with 75 (``lmpt/imagelist.py``): a COCO-LT caption line holds
            the five COCO captions of the image, so 75 characters are about
            the first one, often cut mid-word. ``None`` (default) encodes
            the whole line, up to the text encoder's context length.
        *args, **kwargs: Arguments of mmpretrain's ``ImageClassifier``.
    """

    def __init__(self, *args, data_preprocessor: Optional[dict] = None,
                 caption_max_chars: Optional[int] = None,
                 **kwargs) -> None:
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'CachedFeaturePreprocessor')
        super().__init__(*args, data_preprocessor=data_preprocessor,
                         **kwargs)
        if caption_max_chars is not None and caption_max_chars <= 0:
            raise ValueError(f'caption_max_chars must be positive, got '
                             f'{caption_max_chars}')
        self.caption_max_chars = caption_max_chars

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
        """The head's losses, with the captions' embeddings when its CSE
        loss needs them."""
        feats = self.extract_feat(inputs)
        captions = None
        if getattr(self.head, 'needs_captions', False):
            captions = self.caption_embeddings(data_samples)
        return self.head.loss(feats, data_samples, captions=captions)

    def caption_embeddings(
            self, data_samples: List[DataSample]
    ) -> Optional[Tuple[torch.Tensor, ...]]:
        """Caption embeddings in the head's CSE space."""
        if any('caption' not in s for s in data_samples):
            raise ValueError(
                'The CSE loss needs a caption for every training image: add '
                "'caption' to PackInputs' algorithm_keys and give the "
                'dataset a caption_file.')
        texts = [self.cut_caption(s.caption) for s in data_samples]
        if self.head.cse_space == 'encoder':
            return (self.backbone.encode_captions(texts), )
        return self.backbone.caption_token_embeds(texts)

    def cut_caption(self, caption: str) -> str:
        """The caption text the CSE loss uses (see ``caption_max_chars``)."""
        if self.caption_max_chars is None:
            return caption
        return ' '.join(caption.split())[:self.caption_max_chars]
