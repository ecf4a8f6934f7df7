# Copyright (c) mmltml contributors. All rights reserved.
"""ImageClassifier that hands the batch's captions to the prompt head."""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class CLIPPromptClassifier(ImageClassifier):
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
    (mmpretrain's, plus pass-through of cached image features).
    """

    def __init__(self, *args, data_preprocessor: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'CachedFeaturePreprocessor')
        super().__init__(*args, data_preprocessor=data_preprocessor,
                         **kwargs)

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
        texts = [s.caption for s in data_samples]
        if self.head.cse_space == 'encoder':
            return (self.backbone.encode_captions(texts), )
        return self.backbone.caption_token_embeds(texts)
