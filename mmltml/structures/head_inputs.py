# Copyright (c) mmltml contributors. All rights reserved.
"""The contract for what a classifier hands its head beyond the image
features.

A head's ``loss(feats, data_samples, **head_inputs)`` may take extra
inputs by keyword (captions for LMPT's CSE loss, label captions for
LM-CLIP's contrastive loss, a frozen teacher's features for HP-DVAL's
distillation). Three parts, each explicit:

- the **values** are named tuples defined here (:class:`CaptionFeatures`,
  :class:`CaptionTokens`, :class:`LabelCaptions`, :class:`TeacherFeatures`;
  a new kind of input adds its own);
- the **providers** that compute them are registered modules chosen in the
  classifier's config, ``head_inputs=dict(<keyword>=dict(type=...))``
  (:mod:`mmltml.models.head_inputs`), each declaring its ``output_type``;
- a head that needs inputs implements :class:`RequestsHeadInputs` and
  declares them as :class:`HeadInputRequest` s; the classifier checks the
  config against them when it is built (:func:`check_head_inputs`).

Heads read the values by field name and choose what to do by their type
(e.g. the CSE loss's embedding space), never by probing attributes.
"""
from abc import ABC, abstractmethod
from typing import Dict, NamedTuple, Tuple

import torch


class CaptionFeatures(NamedTuple):
    """Text-encoder features of each image's caption (LMPT's CSE loss,
    ``'encoder'`` space).

    Attributes:
        feats (Tensor): Caption features ``[B, E]`` (not normalised).
    """

    feats: torch.Tensor


class CaptionTokens(NamedTuple):
    """Token embeddings of each image's caption (LMPT's released-code CSE
    space, ``'token'``).

    Attributes:
        embeds (Tensor): Token embeddings ``[B, L, W]`` (before positional
            embeddings).
        mask (Tensor): Valid positions, SOS to EOT, ``[B, L]`` (bool).
    """

    embeds: torch.Tensor
    mask: torch.Tensor


class TeacherFeatures(NamedTuple):
    """A frozen teacher's image embedding of each image (HP-DVAL's
    distillation loss, Eq. 2).

    Attributes:
        cls_embed (Tensor): The teacher's global image embedding ``[B, E]``
            (CLIP: ``encode_image``, not normalised), computed without
            gradients.
    """

    cls_embed: torch.Tensor


class LabelCaptions(NamedTuple):
    """A caption of each image written from its labels, e.g. "a photo of a
    person, dog" (LM-CLIP's contrastive loss; ``LabelCaptionsInput``).

    Attributes:
        texts (tuple[str]): One caption per image of the batch.
    """

    texts: Tuple[str, ...]


class HeadInputRequest(NamedTuple):
    """One extra input a head's ``loss`` takes.

    Attributes:
        name (str): The keyword of ``head.loss`` (and of the classifier's
            ``head_inputs`` config).
        types (tuple[type]): The value types the head accepts.
    """

    name: str
    types: Tuple[type, ...]


class RequestsHeadInputs(ABC):
    """Interface of heads whose ``loss`` needs extra inputs."""

    @abstractmethod
    def head_input_requests(self) -> Tuple[HeadInputRequest, ...]:
        """The inputs this head's ``loss`` needs, as configured."""


def check_head_inputs(head: object, provided: Dict[str, type]) -> None:
    """Check a classifier's ``head_inputs`` against what its head requests.

    Args:
        head: The head; only a :class:`RequestsHeadInputs` requests inputs.
        provided: Keyword -> ``output_type`` of each configured provider.

    Raises:
        ValueError: when a requested input has no provider, a provider's
            output is not of a requested type, or a provider feeds a head
            that requests nothing under its keyword.
    """
    requests = (head.head_input_requests()
                if isinstance(head, RequestsHeadInputs) else ())
    head_name = type(head).__name__
    requested = {r.name: r.types for r in requests}
    for name, types in requested.items():
        kinds = ' or '.join(t.__name__ for t in types)
        if name not in provided:
            raise ValueError(
                f'{head_name} needs the head input {name!r} ({kinds}): add '
                f"head_inputs=dict({name}=dict(type=...)) to the "
                'classifier config, with a provider of '
                f'mmltml.models.head_inputs that gives {kinds}.')
        if not issubclass(provided[name], types):
            raise ValueError(
                f'head_inputs.{name} gives {provided[name].__name__}, '
                f'{head_name} takes {kinds}.')
    unused = sorted(set(provided) - set(requested))
    if unused:
        raise ValueError(f'head_inputs {unused} are not requested by '
                         f'{head_name} (it requests {sorted(requested)}).')
