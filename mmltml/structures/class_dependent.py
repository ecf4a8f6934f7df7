# Copyright (c) mmltml contributors. All rights reserved.
"""The contract of a component whose fields depend on the label space.

A model module or an evaluator metric that holds one entry per class (a
``num_classes``, class names, a head's classifier, the training class
statistics of a loss or a metric) implements :class:`ClassDependent` and
declares those fields as :class:`ClassField` tuples.
:class:`~mmltml.engine.hooks.ClassCountCheckHook`, the one place that
checks them, compares each with the class names of the dataset before a
run processes any data, and the images counted by training statistics with
the training list.
"""
from abc import ABC, abstractmethod
from typing import List, NamedTuple, Optional


class ClassField(NamedTuple):
    """One class-dependent field of a component.

    Attributes:
        name: the attribute, e.g. ``'num_classes'``, ``'class_freq'``.
        num_classes: the number of classes it holds.
        what: what the field is, for messages (e.g. ``'class
            statistics'``); empty for a plain count.
        num_images: for training class statistics, the number of images
            they count (None if unknown or not statistics).
    """
    name: str
    num_classes: int
    what: str = ''
    num_images: Optional[int] = None


class ClassDependent(ABC):
    """Declares the fields of a component that hold one entry per class."""

    @abstractmethod
    def class_fields(self) -> List[ClassField]:
        """The class-dependent fields that are set (none: an empty list)."""
