# Copyright (c) mmltml contributors. All rights reserved.
"""The feature-cache contract between a dataset and a model: the batch key
of cached image features and what a model offers for caching them."""
import hashlib
from abc import ABC, abstractmethod
from typing import Callable, NamedTuple, Optional, Tuple, Union

import torch

#: Key of the cached image features in a batch's ``inputs`` dict.
IMAGE_FEATS = 'image_feats'


class FrozenImageEncoder(NamedTuple):
    """A frozen image encoder whose outputs can be served from a cache.

    Attributes:
        encode: a collated batch of images (as a data loader yields it)
            -> image features [B, E] (or [B, *feature_dim]), fp32; exactly what a training or test
            step of the model computes from those images.
        feature_dim: ``E``, or the shape of one image's features when they
            are not a vector (e.g. ``(1 + P, E)`` tokens).
        fingerprint: a key of the encoder's weights and of everything else
            ``encode`` depends on (a disk cache made with another key is
            never reused); called only when a disk cache is used.
    """

    encode: Callable[[dict], torch.Tensor]
    feature_dim: Union[int, Tuple[int, ...]]
    fingerprint: Callable[[], str]


class CachesImageFeatures(ABC):
    """Interface of models that can be fed cached image features.

    Such a model accepts ``inputs=dict(image_feats=<Tensor [B, E]>)``
    wherever it accepts a batch of images, and gives the same results as
    for the images those features were computed from.
    """

    @abstractmethod
    def frozen_image_encoder(
            self, training: bool) -> Optional[FrozenImageEncoder]:
        """The encoder whose outputs may replace the model's images, or
        None when the image encoder is not frozen.

        Args:
            training: whether the features will feed training steps.

        Raises:
            ValueError: when a step on cached features would need image
                operations (e.g. batch augments such as Mixup, padding).
        """


def module_fingerprint(module: torch.nn.Module, extra: str = '') -> str:
    """sha1 of every parameter and persistent buffer of ``module`` (names
    and bytes), and of ``extra`` (other settings the encoding depends on,
    e.g. the input normalisation)."""
    digest = hashlib.sha1(extra.encode())
    for name, tensor in module.state_dict(keep_vars=False).items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(
            torch.uint8).numpy().tobytes())
    return digest.hexdigest()
