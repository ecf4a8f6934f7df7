# Copyright (c) mmltml contributors. All rights reserved.
"""What every provider of a head input offers."""
from typing import List, NamedTuple, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.structures import DataSample


class BaseHeadInput(nn.Module):
    """A provider of one extra input of a head's ``loss``
    (:mod:`mmltml.structures.head_inputs`).

    A classifier builds its providers from its config,
    ``head_inputs=dict(<keyword>=dict(type=...))``, and at every training
    step hands ``head.loss`` the value of each under its keyword. A
    provider is a module, so it may hold weights of its own (e.g. a frozen
    teacher); it computes from the classifier (its backbone's encoders),
    the batch inputs and the data samples, and returns a named tuple of
    type :attr:`output_type`.
    """

    #: The named tuple the provider returns (set by each provider).
    output_type: type = tuple

    def forward(self, model: nn.Module,
                inputs: Union[torch.Tensor, dict],
                data_samples: List[DataSample]) -> NamedTuple:
        """The input of the batch.

        Args:
            model: The classifier (``model.backbone`` etc.).
            inputs: The batch inputs, after the data preprocessor (images
                ``[B, 3, H, W]`` or ``dict(image_feats=[B, E])``).
            data_samples: The batch's data samples.
        """
        raise NotImplementedError


def batch_captions(data_samples: List[DataSample],
                   max_chars: Optional[int] = None) -> List[str]:
    """The caption of every image of the batch (the data sample field
    ``caption``: the dataset's caption file through ``PackInputs(
    algorithm_keys=['caption'])``), cut to its first ``max_chars``
    characters after collapsing runs of whitespace when ``max_chars`` is
    set."""
    missing = sum('caption' not in s for s in data_samples)
    if missing:
        raise ValueError(
            f'{missing} of {len(data_samples)} training images have no '
            "caption: add 'caption' to PackInputs' algorithm_keys and give "
            'the dataset a caption_file.')
    captions = [s.caption for s in data_samples]
    if max_chars is None:
        return captions
    return [' '.join(c.split())[:max_chars] for c in captions]


def check_max_chars(max_chars: Optional[int]) -> Optional[int]:
    """``max_chars`` if it is None or positive."""
    if max_chars is not None and max_chars <= 0:
        raise ValueError(f'max_chars must be positive, got {max_chars}')
    return max_chars
