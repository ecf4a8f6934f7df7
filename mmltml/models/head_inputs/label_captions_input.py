# Copyright (c) mmltml contributors. All rights reserved.
"""Captions written from each image's labels."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmltml.datasets.categories import get_class_names
from mmltml.structures.class_dependent import ClassDependent, ClassField
from mmltml.structures.head_inputs import LabelCaptions
from .base_head_input import BaseHeadInput


@MODELS.register_module()
class LabelCaptionsInput(BaseHeadInput, ClassDependent):
    """:class:`~mmltml.structures.head_inputs.LabelCaptions`: a caption of
    each image written from its labels, ``template.format(sep.join(names))``,
    e.g. "a photo of a person, dog". No caption file is needed.

    LM-CLIP (official ``dataset_loaders/coco_mlt.py:122-128``) writes
    "a photo of a " + ", ".join(label names) with the names in the order of
    the list file line; the data sample's ``gt_label`` gives that order
    when the dataset keeps it (``LTMultiLabelDataset(label_order='file')``;
    sorted ids otherwise, the same on COCO-LT, a different order for a
    third of the VOC-LT training lines). ``_`` in a class name becomes a
    space, as in the class prompts of
    :class:`~mmltml.models.text_embeds.CLIPClassTextEmbeds`. The head
    encodes the texts (and cuts over-long ones at a word boundary).

    Args:
        classnames (str | Sequence[str]): Class names in label-id order, or
            a spec for :func:`mmltml.datasets.categories.get_class_names`
            (``'coco-lt'``, ``'voc-lt'`` or a label-file path).
        template (str): Caption template; ``{}`` receives the joined names.
            Defaults to ``'a photo of a {}'`` (LM-CLIP's).
        sep (str): Separator of the names. Defaults to ``', '``.
    """

    output_type = LabelCaptions

    def __init__(self,
                 classnames: Union[str, Sequence[str]],
                 template: str = 'a photo of a {}',
                 sep: str = ', ') -> None:
        super().__init__()
        names = (get_class_names(classnames)
                 if isinstance(classnames, str) else list(classnames))
        self.classnames = [name.replace('_', ' ') for name in names]
        self.template = template
        self.sep = sep

    def class_fields(self) -> List[ClassField]:
        """``classnames``."""
        return [ClassField('classnames', len(self.classnames))]

    def caption(self, labels: Sequence[int]) -> str:
        """The caption of one image with label ids ``labels`` (in order)."""
        return self.template.format(
            self.sep.join(self.classnames[i] for i in labels))

    def forward(self, model: nn.Module, inputs: Union[torch.Tensor, dict],
                data_samples: List[DataSample]) -> LabelCaptions:
        """The label caption of every image of the batch."""
        captions = []
        for sample in data_samples:
            labels = [int(i) for i in sample.gt_label]
            bad = [i for i in labels if not 0 <= i < len(self.classnames)]
            if bad:
                raise ValueError(
                    f'LabelCaptionsInput: label id {bad[0]} of image '
                    f'{sample.get("img_path", "?")} is out of range for '
                    f'{len(self.classnames)} class names')
            captions.append(self.caption(labels))
        return LabelCaptions(tuple(captions))

    def extra_repr(self) -> str:
        return (f'num_classes={len(self.classnames)}, '
                f'template={self.template!r}, sep={self.sep!r}')
