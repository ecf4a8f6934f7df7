# Copyright (c) mmltml contributors. All rights reserved.
"""Check, before any data is processed, that every class count agrees."""
from typing import List, Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.evaluation import ConfusionMatrix, SingleLabelMetric
from mmpretrain.models.heads import (ArcFaceClsHead, ConformerHead,
                                     EfficientFormerClsHead, LeViTClsHead,
                                     LinearClsHead, MultiLabelLinearClsHead,
                                     StackedLinearClsHead,
                                     VisionTransformerClsHead)
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import HOOKS

from mmltml.datasets.list_file import read_list_file
from mmltml.datasets.lt_multi_label import LTMultiLabelDataset
from mmltml.structures.class_dependent import ClassDependent, ClassField

#: ``(where the number comes from, the number)``
Source = Tuple[str, int]

#: mmpretrain 1.2.0 components that hold their class count as
#: ``num_classes`` (None: not set); they predate :class:`ClassDependent`.
STOCK_NUM_CLASSES = (ClsDataPreprocessor, LinearClsHead,
                     MultiLabelLinearClsHead, StackedLinearClsHead,
                     VisionTransformerClsHead, ConformerHead,
                     EfficientFormerClsHead, LeViTClsHead, ArcFaceClsHead,
                     SingleLabelMetric, ConfusionMatrix)


def class_fields(component: object) -> List[ClassField]:
    """The class-dependent fields ``component`` declares
    (:class:`~mmltml.structures.ClassDependent`), or the ``num_classes`` of
    a stock component of :data:`STOCK_NUM_CLASSES`; none for any other."""
    if isinstance(component, ClassDependent):
        return component.class_fields()
    if isinstance(component, STOCK_NUM_CLASSES) and \
            component.num_classes is not None:
        return [ClassField('num_classes', int(component.num_classes))]
    return []


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Stop a run whose class counts disagree, naming every number.

    The one place that checks the class-dependent fields of a run. The
    reference is the number of class names of the loop's dataset
    (``dataset.metainfo['classes']``, through wrappers such as
    :class:`~mmltml.datasets.CachedFeatureDataset`). It is compared with
    every class-dependent field of the model's modules and of the loop's
    evaluator metrics, as the components declare them
    (:func:`class_fields`): e.g. ``num_classes`` of the data preprocessor
    and of a head, ``classnames`` of ``CLIPPromptBackbone``, the class
    statistics of ``DBLoss``, ``CSELoss`` (``class_freq``) and
    ``GroupMAP``. A component that holds one entry per class implements
    :class:`~mmltml.structures.ClassDependent`; stock mmpretrain components
    with a ``num_classes`` are listed in :data:`STOCK_NUM_CLASSES`.

    Training runs are checked in ``before_train``: the model against the
    training dataset, and the validation dataset and metrics against the
    training dataset's count, so a wrong validation metric is found before
    the first epoch; training class statistics (of the model and the
    validation metrics) that count more images than the training list are
    refused, as they cannot be the training split's. Test runs are checked
    in ``before_test`` and stand-alone validation in ``before_val`` (model
    and metrics against the loop's dataset). All differences are reported
    together in one ``ValueError`` that names the dataset (type and list
    file) with its count and each disagreeing source with its count. The
    hook has the highest priority, so it runs before
    :class:`~mmltml.engine.hooks.FeatureCacheHook` encodes any image.

    Registered by the default runtime in ``default_hooks`` as
    ``class_count_check`` (see :class:`FiniteLossHook` on replacing it).
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self._checked = set()

    def before_train(self, runner) -> None:
        """Check the model, the training set and the validation set."""
        train_set = runner.train_dataloader.dataset
        model_fields = self.model_fields(runner.model)
        errors = [
            self._mismatch('training', train_set, _counts(model_fields))
        ]
        metric_fields = []
        if runner.val_loop is not None:
            num_train = _num_classes(train_set)
            reference = [] if num_train is None else [
                (f'the training dataset {describe_dataset(train_set)}',
                 num_train)
            ]
            val_set = runner.val_loop.dataloader.dataset
            metric_fields = self._metric_fields(runner.val_loop)
            errors.append(
                self._mismatch('validation', val_set,
                               reference + _counts(metric_fields)))
        self._raise(errors)
        self._check_statistics_split(train_set, model_fields + metric_fields)

    @staticmethod
    def _check_statistics_split(train_set, fields: List[Tuple[str, ClassField]]
                                ) -> None:
        """Refuse training class statistics that count more images than
        the training list has: they cannot be the training split's (e.g.
        ``class_stats`` pointed at the test list)."""
        inner = train_set
        while not hasattr(inner, 'ann_file') and hasattr(inner, 'dataset'):
            inner = inner.dataset
        ann_file = getattr(inner, 'ann_file', None)
        counted = [(where, field.num_images) for where, field in fields
                   if field.num_images is not None]
        if not isinstance(inner, LTMultiLabelDataset) or not ann_file \
                or not counted:
            return
        num_train = len(read_list_file(ann_file))
        wrong = [(where, num) for where, num in counted if num > num_train]
        if wrong:
            details = ''.join(f'\n  {where}: count {num} images, more than '
                              f'the {num_train} of the training list '
                              f'{ann_file}' for where, num in wrong)
            raise ValueError(
                'Class statistics of another split:' + details +
                "\nThey are not the training split's (is class_stats the "
                'test or validation list?)')

    def before_val(self, runner) -> None:
        """Check the validation set against the model and metrics."""
        self._check_eval_loop(runner, 'validation', runner.val_loop)

    def before_test(self, runner) -> None:
        """Check the test set against the model and metrics."""
        self._check_eval_loop(runner, 'test', runner.test_loop)

    def _check_eval_loop(self, runner, split: str, loop) -> None:
        if split in self._checked:
            return
        fields = self.model_fields(runner.model) + self._metric_fields(loop)
        self._raise(
            [self._mismatch(split, loop.dataloader.dataset, _counts(fields))])

    def _metric_fields(self, loop) -> List[Tuple[str, ClassField]]:
        evaluator = getattr(loop, 'evaluator', None)
        return self.metric_fields(getattr(evaluator, 'metrics', []))

    def _mismatch(self, split: str, dataset,
                  sources: List[Source]) -> Optional[str]:
        """A description of the counts that differ from the dataset's."""
        self._checked.add(split)
        num = _num_classes(dataset)
        if num is not None:
            reference = (f'the {split} dataset {describe_dataset(dataset)}',
                         num)
        elif sources:
            reference, sources = sources[0], sources[1:]
        else:
            return None
        wrong = [(name, n) for name, n in sources if n != reference[1]]
        if not wrong:
            return None
        details = ''.join(f'\n  {name}: {n} classes' for name, n in wrong)
        return f'{reference[0]} has {reference[1]} classes, but{details}'

    @staticmethod
    def _raise(errors: List[Optional[str]]) -> None:
        errors = [e for e in errors if e]
        if errors:
            raise ValueError(
                'Class count mismatch: ' + '\n'.join(errors) +
                '\nMake them agree (num_classes, classnames and class_stats '
                'of the config; class statistics must be those of the '
                'training set).')

    @staticmethod
    def model_fields(
            model: torch.nn.Module) -> List[Tuple[str, ClassField]]:
        """``(description, field)`` of every class-dependent field of the
        modules of ``model``."""
        if is_model_wrapper(model):
            model = model.module
        found = []
        for name, module in model.named_modules():
            path = f'model.{name}' if name else 'model'
            kind = type(module).__name__
            for field in class_fields(module):
                what = f'{kind} {field.what}' if field.what else kind
                found.append((f'{path}.{field.name} ({what})', field))
        return found

    @staticmethod
    def metric_fields(metrics) -> List[Tuple[str, ClassField]]:
        """``(description, field)`` of every class-dependent field of the
        evaluator ``metrics``."""
        found = []
        for metric in metrics:
            kind = type(metric).__name__
            for field in class_fields(metric):
                where = (f'metric {kind} {field.what}' if field.what else
                         f'metric {kind}.{field.name}')
                found.append((where, field))
        return found


def describe_dataset(dataset) -> str:
    """``TypeName (list file, label file)`` of a dataset or wrapped one."""
    inner = dataset
    while not hasattr(inner, 'ann_file') and hasattr(inner, 'dataset'):
        inner = inner.dataset
    files = [
        str(f) for f in (getattr(inner, 'ann_file', None),
                         getattr(inner, 'label_file', None)) if f
    ]
    kind = type(inner).__name__
    return f'{kind} ({", ".join(files)})' if files else kind


def _num_classes(dataset) -> Optional[int]:
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    return None if classes is None else len(classes)


def _counts(fields: List[Tuple[str, ClassField]]) -> List[Source]:
    return [(where, field.num_classes) for where, field in fields]
