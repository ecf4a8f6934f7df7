# Copyright (c) mmltml contributors. All rights reserved.
"""Check, before any data is processed, that every class count agrees."""
from typing import List, Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from mmltml.datasets.list_file import read_list_file
from mmltml.datasets.lt_multi_label import LTMultiLabelDataset

#: ``(where the number comes from, the number)``
Source = Tuple[str, int]


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Stop a run whose class counts disagree, naming every number.

    The reference is the number of class names of the loop's dataset
    (``dataset.metainfo['classes']``, through wrappers such as
    :class:`~mmltml.datasets.CachedFeatureDataset`). It is compared with

    - every ``num_classes`` (positive int) of a model module, e.g.
      ``model.data_preprocessor.num_classes`` and
      ``model.head.num_classes``;
    - every ``class_freq`` of a model module (the class statistics of the
      losses, e.g. ``model.head.loss_module.class_freq`` of ``DBLoss``,
      loaded from their ``class_stats``);
    - every ``classnames`` list of a model module (the class prompts of
      ``CLIPPromptBackbone``);
    - the loop's evaluator metrics: ``num_classes`` and the class
      statistics ``stats['num_classes']`` (``GroupMAP``).

    Training runs are checked in ``before_train``: the model against the
    training dataset, and the validation dataset and metrics against the
    training dataset's count, so a wrong validation metric is found before
    the first epoch. Test runs are checked in ``before_test`` and
    stand-alone validation in ``before_val`` (model and metrics against the
    loop's dataset). All differences are reported together in one
    ``ValueError`` that names the dataset (type and list file) with its
    count and each disagreeing source with its count. The hook has the
    highest priority, so it runs before
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
        errors = [
            self._mismatch('training', train_set,
                           self.model_sources(runner.model))
        ]
        if runner.val_loop is not None:
            num_train = _num_classes(train_set)
            reference = [] if num_train is None else [
                (f'the training dataset {describe_dataset(train_set)}',
                 num_train)
            ]
            val_set = runner.val_loop.dataloader.dataset
            errors.append(
                self._mismatch('validation', val_set, reference +
                               self._metric_sources(runner.val_loop)))
        self._raise(errors)
        if runner.val_loop is not None:
            self._check_statistics_split(train_set, runner.val_loop)

    @staticmethod
    def _check_statistics_split(train_set, loop) -> None:
        """Let metrics refuse class statistics that count more images than
        the training list (``check_training_split`` of ``GroupMAP``)."""
        inner = train_set
        while not hasattr(inner, 'ann_file') and hasattr(inner, 'dataset'):
            inner = inner.dataset
        ann_file = getattr(inner, 'ann_file', None)
        if not isinstance(inner, LTMultiLabelDataset) or not ann_file:
            return
        metrics = getattr(getattr(loop, 'evaluator', None), 'metrics', [])
        checks = [m.check_training_split for m in metrics
                  if hasattr(m, 'check_training_split')]
        if checks:
            num_images = len(read_list_file(ann_file))
            for check in checks:
                check(num_images, ann_file)

    def before_val(self, runner) -> None:
        """Check the validation set against the model and metrics."""
        self._check_eval_loop(runner, 'validation', runner.val_loop)

    def before_test(self, runner) -> None:
        """Check the test set against the model and metrics."""
        self._check_eval_loop(runner, 'test', runner.test_loop)

    def _check_eval_loop(self, runner, split: str, loop) -> None:
        if split in self._checked:
            return
        sources = self.model_sources(runner.model) + self._metric_sources(loop)
        self._raise([self._mismatch(split, loop.dataloader.dataset, sources)])

    def _metric_sources(self, loop) -> List[Source]:
        evaluator = getattr(loop, 'evaluator', None)
        return self.metric_sources(getattr(evaluator, 'metrics', []))

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
    def model_sources(model: torch.nn.Module) -> List[Source]:
        """Class counts declared by the modules of ``model``."""
        if is_model_wrapper(model):
            model = model.module
        sources = []
        for name, module in model.named_modules():
            path = f'model.{name}' if name else 'model'
            kind = type(module).__name__
            num = getattr(module, 'num_classes', None)
            if isinstance(num, int) and not isinstance(num, bool) and num > 0:
                sources.append((f'{path}.num_classes ({kind})', num))
            freq = getattr(module, 'class_freq', None)
            if isinstance(freq, torch.Tensor) and freq.dim() == 1:
                sources.append((f'{path}.class_freq ({kind} class '
                                'statistics)', freq.numel()))
            names = getattr(module, 'classnames', None)
            if isinstance(names, (list, tuple)):
                sources.append((f'{path}.classnames ({kind})', len(names)))
        return sources

    @staticmethod
    def metric_sources(metrics) -> List[Source]:
        """Class counts declared by evaluator metrics."""
        sources = []
        for metric in metrics:
            kind = type(metric).__name__
            num = getattr(metric, 'num_classes', None)
            if isinstance(num, int) and not isinstance(num, bool) and num > 0:
                sources.append((f'metric {kind}.num_classes', num))
            stats = getattr(metric, 'stats', None)
            if isinstance(stats, dict) and 'num_classes' in stats:
                sources.append((f'metric {kind} class statistics',
                                int(stats['num_classes'])))
        return sources


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
