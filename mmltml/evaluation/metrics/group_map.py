# Copyright (c) mmltml contributors. All rights reserved.
import csv
import json
import logging
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmpretrain.registry import METRICS

from mmltml.datasets import load_class_stats
from mmltml.models.heads.logits import PRED_LOGITS
from mmltml.structures import GROUP_NAMES, HEAD_THR, TAIL_THR, group_rules
from mmltml.structures.class_dependent import ClassDependent, ClassField

EMPTY_CLASS_POLICIES = ('exclude', 'zero')


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    r"""Non-interpolated average precision of one class, ties grouped.

    .. math::
        \text{AP} = \sum_n (R_n - R_{n-1}) P_n

    over the distinct score thresholds, like
    ``sklearn.metrics.average_precision_score``: images with equal scores
    form one threshold, so every positive of a tied block gets the
    precision at the end of the block, whatever their order.

    Args:
        scores (np.ndarray): Scores of the N images, shape ``(N,)``.
        labels (np.ndarray): Binary ground truth, shape ``(N,)``.

    Returns:
        float: AP in [0, 1], or NaN if there is no positive.

    Examples:
        >>> average_precision(np.array([.5, .5, .3, .1]),
        ...                   np.array([1, 0, 1, 0]))
        0.5833333333333333
    """
    return average_precision_of_positives(
        np.asarray(scores, dtype=np.float64),
        np.flatnonzero(np.asarray(labels) > 0))


#: Classes with at most this many positives count the images above each
#: positive's score by comparison instead of sorting the scores.
COUNT_BY_COMPARISON = 8


def average_precision_of_positives(scores: np.ndarray,
                                   positives: np.ndarray) -> float:
    r""":func:`average_precision` from the indices of the positives.

    Written per positive: every positive :math:`p` of score :math:`s_p`
    gets the precision of the threshold :math:`s_p`, the number of
    positives over the number of images scored :math:`\ge s_p` (tied
    images included: the end of its tied block), and AP is their mean.
    The images above each threshold are counted by comparison for a
    class with few positives (O(N P); most classes of a long tail), else
    by a binary search in the sorted scores (O(N log N)).

    Args:
        scores (np.ndarray): Finite scores of the N images, ``(N,)``.
        positives (np.ndarray): Indices of the positive images (distinct).

    Returns:
        float: AP in [0, 1], or NaN if there is no positive.
    """
    num_pos = positives.size
    if num_pos == 0:
        return float('nan')
    thresholds = np.sort(scores[positives])
    if num_pos <= COUNT_BY_COMPARISON:
        images_above = (scores[None] >= thresholds[:, None]).sum(1)
    else:
        images_above = scores.size - np.searchsorted(
            np.sort(scores), thresholds, side='left')
    positives_above = num_pos - np.searchsorted(thresholds, thresholds,
                                                side='left')
    return float(np.mean(positives_above / images_above))


def classwise_average_precision(pred: np.ndarray,
                                target: np.ndarray) -> np.ndarray:
    """Per-class :func:`average_precision` of ``(N, C)`` scores and targets.

    Args:
        pred (np.ndarray): Scores, shape ``(N, C)``.
        target (np.ndarray): Binary targets, shape ``(N, C)``.

    Returns:
        np.ndarray: AP of each class in [0, 1]; NaN for a class without
        positives.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target) > 0
    if pred.ndim != 2 or pred.shape != target.shape:
        raise ValueError(f'pred {pred.shape} and target {target.shape} must '
                         'both be (N, num_classes)')
    _check_finite(pred)
    return np.array([
        average_precision_of_positives(pred[:, k],
                                       np.flatnonzero(target[:, k]))
        for k in range(pred.shape[1])
    ])


def _check_finite(pred: np.ndarray, rows: Optional[np.ndarray] = None
                  ) -> None:
    """Raise naming the (sample, class) of NaN or inf scores; ``rows``
    maps the rows of ``pred`` to sample indices."""
    if np.isfinite(pred).all():
        return
    bad = np.argwhere(~np.isfinite(pred))
    if rows is not None:
        bad[:, 0] = rows[bad[:, 0]]
    raise ValueError(
        f'{len(bad)} score(s) are NaN or inf, e.g. (sample, class) '
        f'{[tuple(map(int, b)) for b in bad[:5]]}')


@METRICS.register_module()
class GroupMAP(BaseMetric, ClassDependent):
    """mAP over all classes and over the head / medium / tail groups.

    The groups are defined by the *training* frequency n_i of each class,
    with the rule of :func:`mmltml.structures.split_groups`: head
    n_i >= ``head_thr``, medium ``tail_thr`` <= n_i < ``head_thr``, tail
    n_i < ``tail_thr`` (100 / 20 by default, the LTML protocol). The
    per-class AP is the non-interpolated AP of
    ``sklearn.metrics.average_precision_score``; mAP is the mean of the
    per-class APs and a group mAP the mean within the group, so the total
    equals the class-count-weighted mean of the groups (checked at every
    evaluation).

    Why not mmpretrain's ``AveragePrecision.calculate``: it ranks images
    with an unstable ``argsort`` and gives each positive the precision at
    its own rank, so tied scores (common with saturated sigmoids or
    quantised logits) get an arbitrary, order-dependent AP. Here tied
    images form one threshold, as in sklearn, and the result is
    deterministic. Without ties both agree.

    Images are ranked by the raw logits ``pred_logits`` when the data
    samples carry them, else by ``pred_score``: saturated fp32 sigmoids
    tie where the logits do not (:mod:`mmltml.models.heads.logits` says
    why, and how every head stores ``pred_logits``). When only
    ``pred_score`` is available and a class has positives and
    negatives tied at exactly 1.0 or 0.0 (saturated sigmoids; a matrix of
    hard 0/1 predictions is accepted), evaluation stops with an error that
    names the fix instead of reporting a wrong number. Softmax-over-classes
    scores are not a multi-label protocol; a warning is logged when every
    score row sums to 1.

    Classes with no positive in the evaluation set (``empty_class``):
    ``'exclude'`` (default) leaves them out of every mean and lists them;
    ``'zero'`` gives them AP 0, like sklearn and mmpretrain. A group with
    no evaluable class is left out of the results (its reason is logged),
    never reported as NaN.

    The statistics must be the training split's: statistics equal to the
    evaluated set's own positives per class are refused, and so (checked
    by ``ClassCountCheckHook`` before training, see :meth:`class_fields`)
    are statistics that count more images than the training list.

    Args:
        class_stats (str | dict, optional): Training statistics, any source
            accepted by :func:`mmltml.datasets.load_class_stats`, e.g.
            ``dict(ann_file='data/coco/coco_lt_train.txt',
            label_file='data/coco/coco_labels.txt')`` or a JSON path.
        class_freq (Sequence[int], optional): Training frequencies, instead
            of ``class_stats``.
        head_thr (int): Head threshold. Defaults to 100.
        tail_thr (int): Tail threshold. Defaults to 20.
        empty_class (str): ``'exclude'`` or ``'zero'``. Defaults to
            ``'exclude'``.
        dump_dir (str, optional): Folder for the per-class APs (and plot),
            overwritten at each evaluation; ``'auto'`` uses the folder of
            the current log file (``work_dir/<timestamp>``). Defaults to
            None (no dump).
        dump_format (str): ``'csv'`` or ``'json'``. Defaults to ``'csv'``.
        plot (bool): Also save a PNG of per-class AP against training
            frequency in ``dump_dir``. Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Key prefix; defaults to ``'lt'``.

    Examples:
        >>> val_evaluator = dict(
        ...     type='GroupMAP',
        ...     class_stats=dict(ann_file='data/coco/coco_lt_train.txt',
        ...                      label_file='data/coco/coco_labels.txt'))
        >>> # results: {'lt/mAP': ..., 'lt/mAP_head': ...,
        >>> #           'lt/mAP_medium': ..., 'lt/mAP_tail': ...}
        >>> import torch
        >>> metric = GroupMAP(class_freq=[150, 50, 5])
        >>> pred = torch.tensor([[.9, .1, .2], [.2, .8, .1], [.3, .2, .7]])
        >>> target = torch.eye(3)
        >>> metric.compute_metrics([
        ...     dict(pred_score=p, gt_score=t) for p, t in zip(pred, target)])
        {'mAP': 100.0, 'mAP_head': 100.0, 'mAP_medium': 100.0, 'mAP_tail': 100.0}
    """  # noqa: E501

    default_prefix: Optional[str] = 'lt'

    def __init__(self,
                 class_stats: Union[str, dict, None] = None,
                 class_freq: Optional[Sequence[int]] = None,
                 head_thr: int = HEAD_THR,
                 tail_thr: int = TAIL_THR,
                 empty_class: str = 'exclude',
                 dump_dir: Optional[str] = None,
                 dump_format: str = 'csv',
                 plot: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if (class_stats is None) == (class_freq is None):
            raise ValueError('GroupMAP needs exactly one of class_stats and '
                             'class_freq (training class frequencies)')
        if empty_class not in EMPTY_CLASS_POLICIES:
            raise ValueError(f'empty_class must be one of '
                             f'{EMPTY_CLASS_POLICIES}, got {empty_class!r}')
        if dump_format not in ('csv', 'json'):
            raise ValueError(f"dump_format must be 'csv' or 'json', got "
                             f'{dump_format!r}')
        if plot and dump_dir is None:
            raise ValueError('plot=True needs a dump_dir')
        source = class_stats if class_freq is None else dict(
            class_freq=class_freq)
        self.stats = load_class_stats(source, None, head_thr, tail_thr)
        self.empty_class = empty_class
        self.dump_dir = dump_dir
        self.dump_format = dump_format
        self.plot = plot

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the ranking scores and the positive classes of a batch.

        The scores are kept as they come ([C] per image, fp32 for the
        heads of this package), each image's row copied: a view would keep
        the whole batch's tensor, follow in-place changes of it, and leave
        the heap fragmented between the kept batches (at 10,000 classes x
        30,000 images a peak RSS of 5.0 GiB instead of 2.6 GiB, measured
        with ``benchmark_group_map.py``). The targets are kept only as the
        indices of the positive classes (``gt_positives``), not as a dense
        [C] vector: at 10,000 classes x 100,000 images the scores alone
        are 4 GB.

        Args:
            data_batch: A batch of data from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs with
                ``pred_logits`` (preferred) or ``pred_score``, and
                ``gt_score`` (positive: > 0) or ``gt_label``.
        """
        for sample in data_samples:
            key = PRED_LOGITS if PRED_LOGITS in sample else 'pred_score'
            pred = sample[key].detach().cpu().clone()
            if 'gt_score' in sample:
                positives = torch.nonzero(
                    sample['gt_score'].detach().cpu() > 0).flatten()
            else:
                positives = torch.as_tensor(sample['gt_label']).flatten()
            self.results.append({key: pred,
                                 'gt_positives': positives.unique()})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute total and group mAP (in %) from the collected results.

        The scores are read one block of classes at a time (at most
        :data:`BLOCK_ELEMENTS` values in float64), so the memory beyond
        the collected results does not grow with the number of classes.

        Args:
            results (list[dict]): ``pred_logits`` or ``pred_score`` [C],
                and the positive class indices ``gt_positives`` (as
                :meth:`process` stores them) or the dense ``gt_score``
                [C] (> 0: positive), per image, from all ranks.

        Returns:
            dict[str, float]: ``mAP``, ``mAP_head``, ``mAP_medium`` and
            ``mAP_tail``; a group without evaluable classes is left out
            (and the reason logged), never reported as NaN.

        Raises:
            ValueError: If the class statistics are the evaluated set's own
                label counts.
        """
        scores = _ScoreColumns(results, self.stats['num_classes'])
        num_pos = scores.num_positives()
        self._refuse_stats_of_evaluated_split(num_pos)
        ap = np.empty(scores.num_classes)
        row_sums = np.zeros(scores.num_images)
        saturation = _Saturation()
        for classes, block, positives in scores.blocks():
            row_sums += block.sum(0)
            if scores.key == 'pred_score':
                saturation.add(classes, block, positives)
            ap[classes] = [average_precision_of_positives(column, pos)
                           for column, pos in zip(block, positives)]
        if scores.key == 'pred_score':
            saturation.check()
        self._warn_if_softmax(row_sums, scores.num_classes)
        if self.empty_class == 'zero':
            ap = np.nan_to_num(ap, nan=0.0)
        metrics = self._group_means(ap * 100)
        self._log_table(metrics, ap, num_pos)
        if self.dump_dir is not None:
            self._dump(ap, num_pos)
        return self._drop_empty_groups(metrics)

    def class_fields(self) -> List[ClassField]:
        """The class statistics (with the images they count), which
        :class:`~mmltml.engine.hooks.ClassCountCheckHook` checks against
        the dataset's classes and the training list before training."""
        return [
            ClassField('stats', self.stats['num_classes'],
                       'class statistics', self.stats['num_images'])
        ]

    def _refuse_stats_of_evaluated_split(self, num_pos: np.ndarray) -> None:
        """Refuse class statistics equal to the evaluated set's own
        positives per class: the groups would be those of the evaluated
        split, not of the training split."""
        if np.array_equal(num_pos, np.asarray(self.stats['class_freq'])):
            raise ValueError(
                'GroupMAP: the class statistics are the label counts of the '
                'evaluated set itself (every class_freq equals its positives '
                'in this set), not those of the training split: point '
                'class_stats at the training list')

    def _drop_empty_groups(self, metrics: Dict[str, float]
                           ) -> Dict[str, float]:
        """Leave out the groups without an evaluable class, logging why
        (a group with no class, or whose classes have no positive in the
        evaluated set)."""
        for name in GROUP_NAMES:
            key = f'mAP_{name}'
            if np.isfinite(metrics[key]):
                continue
            idx = self.stats['groups'][name]
            reason = (f'has no class (thresholds '
                      f'{self.stats["thresholds"]})' if not idx else
                      f'has {len(idx)} classes but none with a positive in '
                      'the evaluated set')
            print_log(f'GroupMAP: {key} is not reported: the {name} group '
                      f'{reason}', logger='current', level=logging.WARNING)
            del metrics[key]
        return metrics

    def _group_means(self, ap: np.ndarray) -> Dict[str, float]:
        """Mean AP over all classes and per group, NaN APs left out."""
        metrics = {'mAP': _nanmean(ap)}
        weighted, count = 0.0, 0
        for name in GROUP_NAMES:
            group_ap = ap[self.stats['groups'][name]]
            metrics[f'mAP_{name}'] = _nanmean(group_ap)
            n = int(np.isfinite(group_ap).sum())
            weighted += metrics[f'mAP_{name}'] * n if n else 0.0
            count += n
        if count and not np.isclose(weighted / count, metrics['mAP']):
            raise RuntimeError('total mAP differs from the count-weighted '
                               'mean of the group mAPs')
        return metrics

    def _warn_if_softmax(self, row_sums: np.ndarray,
                         num_classes: int) -> None:
        if num_classes > 1 and np.allclose(row_sums, 1, rtol=1e-5,
                                           atol=1e-8):
            print_log(
                'GroupMAP: every score row sums to 1; softmax-over-classes '
                'scores are not valid for multi-label AP, use logits or '
                'sigmoids',
                logger='current',
                level=logging.WARNING)

    def _log_table(self, metrics: Dict[str, float], ap: np.ndarray,
                   num_pos: np.ndarray) -> None:
        """Print classes per group, evaluated classes and mAP."""
        rules = group_rules(self.stats['thresholds'])
        lines = [
            f'{"group":<8}{"rule":<18}{"classes":>8}{"evaluated":>10}'
            f'{"mAP":>8}'
        ]
        for name in GROUP_NAMES:
            idx = self.stats['groups'][name]
            n_eval = int(np.isfinite(ap[idx]).sum())
            lines.append(f'{name:<8}{rules[name]:<18}{len(idx):>8}'
                         f'{n_eval:>10}{metrics[f"mAP_{name}"]:>8.2f}')
        lines.append(f'{"total":<8}{"":<18}{len(ap):>8}'
                     f'{int(np.isfinite(ap).sum()):>10}'
                     f'{metrics["mAP"]:>8.2f}')
        names = self._class_names()
        empty = [names[i] for i in np.flatnonzero(num_pos == 0)]
        if empty:
            policy = ('excluded from the means'
                      if self.empty_class == 'exclude' else 'counted as AP 0')
            shown = empty[:MAX_LOGGED_CLASSES]
            more = (f' and {len(empty) - len(shown)} more (all in the '
                    'per-class dump, dump_dir)' if len(empty) > len(shown)
                    else '')
            lines.append(f'{len(empty)} classes without positives in the '
                         f'evaluation set, {policy}: {shown}{more}')
        print_log('Group mAP (%):\n' + '\n'.join(lines), logger='current')

    def _class_names(self) -> List[str]:
        names = (self.dataset_meta or {}).get('classes') or \
            self.stats['classes']
        if names is None or len(names) != self.stats['num_classes']:
            return [str(i) for i in range(self.stats['num_classes'])]
        return list(names)

    def _resolve_dump_dir(self) -> str:
        if self.dump_dir != 'auto':
            return self.dump_dir
        for handler in MMLogger.get_current_instance().handlers:
            if isinstance(handler, logging.FileHandler):
                return osp.dirname(handler.baseFilename)
        return '.'

    def _dump(self, ap: np.ndarray, test_pos: np.ndarray) -> None:
        """Write per-class AP (and optionally the plot) to the dump dir."""
        out_dir = self._resolve_dump_dir()
        os.makedirs(out_dir, exist_ok=True)
        group_of = {
            i: g
            for g, idx in self.stats['groups'].items()
            for i in idx
        }
        rows = [
            dict(
                index=i,
                name=name,
                group=group_of[i],
                train_freq=self.stats['class_freq'][i],
                test_pos=int(test_pos[i]),
                ap=None if np.isnan(ap[i]) else round(float(ap[i]) * 100, 4))
            for i, name in enumerate(self._class_names())
        ]
        path = osp.join(out_dir, f'per_class_ap.{self.dump_format}')
        with open(path, 'w', newline='', encoding='utf-8') as f:
            if self.dump_format == 'json':
                json.dump(rows, f, indent=1)
            else:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        if self.plot:
            _plot_ap_vs_freq(rows, osp.join(out_dir, 'per_class_ap.png'))
        print_log(
            f'GroupMAP: per-class AP written to {path}', logger='current')


#: Classes without positives named in the log (large label spaces have
#: thousands).
MAX_LOGGED_CLASSES = 50

#: Score values per block of classes in :meth:`GroupMAP.compute_metrics`
#: (float64: 128 MiB), gathered from the images' rows IMAGE_TILE at a time.
BLOCK_ELEMENTS = 2**24
IMAGE_TILE = 256


class _ScoreColumns:
    """The collected per-image results read by blocks of classes.

    Holds a view of each image's score row and the positive classes of
    each image (as a class-sorted index, CSR style); a block is the
    float64 ``[k, N]`` scores of k classes (the rows' own values: float64
    represents fp16, bf16 and fp32 scores exactly, so no tie is made or
    broken).
    """

    def __init__(self, results: List[dict], num_classes: int) -> None:
        self.key = _ranking_key(results)
        self.rows = [_score_row(r[self.key]) for r in results]
        widths = {row.size for row in self.rows}
        if widths != {num_classes}:
            other = sorted(widths - {num_classes})[0]
            raise ValueError(f'scores have {other} classes but the class '
                             f'statistics have {num_classes}')
        self.num_classes, self.num_images = num_classes, len(results)
        self._check_finite()
        classes, images = _positive_pairs(results, num_classes)
        order = np.argsort(classes, kind='stable')
        self._images = images[order]
        self._starts = np.searchsorted(classes[order],
                                       np.arange(num_classes + 1))

    def _check_finite(self) -> None:
        bad = [i for i, row in enumerate(self.rows)
               if not np.isfinite(row).all()]
        if bad:
            _check_finite(np.stack([self.rows[i] for i in bad]),
                          np.array(bad))

    def num_positives(self) -> np.ndarray:
        """Positive images per class, shape ``(C,)``."""
        return np.diff(self._starts)

    def positives(self, cls: int) -> np.ndarray:
        """Indices of the positive images of class ``cls``."""
        return self._images[self._starts[cls]:self._starts[cls + 1]]

    def blocks(self) -> Iterator[Tuple[slice, np.ndarray,
                                       List[np.ndarray]]]:
        """``(classes, scores [k, N] float64, positives of each class)``
        for consecutive blocks of classes."""
        size = max(1, BLOCK_ELEMENTS // max(self.num_images, 1))
        for start in range(0, self.num_classes, size):
            classes = slice(start, min(start + size, self.num_classes))
            block = np.empty((classes.stop - start, self.num_images))
            # transposed tile by tile (cache-friendly)
            for first in range(0, self.num_images, IMAGE_TILE):
                tile = np.stack([row[classes] for row in
                                 self.rows[first:first + IMAGE_TILE]])
                block[:, first:first + len(tile)] = tile.T
            yield (classes, block,
                   [self.positives(c)
                    for c in range(classes.start, classes.stop)])


def _ranking_key(results: List[dict]) -> str:
    """The field to rank by: ``pred_logits`` if every result has them,
    else ``pred_score``."""
    with_logits = sum(PRED_LOGITS in r for r in results)
    if 0 < with_logits < len(results):
        raise ValueError(f'{with_logits} of {len(results)} predictions have '
                         f'{PRED_LOGITS} and the others only pred_score; '
                         'they cannot be ranked together')
    return PRED_LOGITS if with_logits else 'pred_score'


def _score_row(scores) -> np.ndarray:
    """A ``(C,)`` numpy view of one image's scores (fp16 / bf16 widened to
    fp32, exactly)."""
    row = torch.as_tensor(scores).flatten()
    if row.dtype not in (torch.float32, torch.float64):
        row = row.float()
    return row.numpy()


def _positive_pairs(results: List[dict],
                    num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(class, image)`` index pairs of every positive label."""
    classes = []
    for image, result in enumerate(results):
        if 'gt_positives' in result:
            positive = torch.as_tensor(result['gt_positives']).numpy()
        else:
            target = torch.as_tensor(result['gt_score']).flatten()
            if target.numel() != num_classes:
                raise ValueError(f'gt_score of image {image} has '
                                 f'{target.numel()} classes, the scores '
                                 f'{num_classes}')
            positive = np.flatnonzero(target.numpy() > 0)
        if positive.size and not (0 <= positive.min()
                                  and positive.max() < num_classes):
            raise ValueError(f'image {image} has label(s) outside 0..'
                             f'{num_classes - 1}: {positive.tolist()}')
        classes.append(positive.astype(np.int64))
    counts = [len(c) for c in classes]
    return (np.concatenate(classes) if classes else np.zeros(0, np.int64),
            np.repeat(np.arange(len(results)), counts))


class _Saturation:
    """Whether sigmoid scores tie a positive and a negative at exactly 1.0
    or 0.0 (fp32 sigmoid saturation), gathered block by block; hard 0/1
    predictions (no score strictly inside (0, 1)) and scores outside
    [0, 1] are not probabilities and are not judged."""

    def __init__(self) -> None:
        self.inside = self.outside = False
        self.tied = {1.0: [], 0.0: []}

    def add(self, classes: slice, block: np.ndarray,
            positives: List[np.ndarray]) -> None:
        self.inside |= bool(((block > 0) & (block < 1)).any())
        self.outside |= bool(((block < 0) | (block > 1)).any())
        positive = np.zeros(block.shape, dtype=bool)
        for row, pos in zip(positive, positives):
            row[pos] = True
        for value, found in self.tied.items():
            tied = block == value
            mixed = (tied & positive).any(1) & (tied & ~positive).any(1)
            found += (np.flatnonzero(mixed) + classes.start).tolist()

    def check(self) -> None:
        """Raise if a class has such a tie."""
        if not self.inside or self.outside:
            return
        bad = [(k, value) for value, found in self.tied.items()
               for k in found]
        if bad:
            raise ValueError(
                f'GroupMAP: {len(bad)} class(es) have positive and negative '
                f'images tied at a pred_score of exactly 1.0 or 0.0, e.g. '
                f'(class, score) {bad[:5]}: saturated fp32 sigmoids, which '
                'would give a wrong AP (see mmltml.models.heads.logits). '
                "Rank by the logits: use a head that stores 'pred_logits' "
                "(mmltml's heads do) or add "
                "default_hooks=dict(head_logits=dict(type='HeadLogitsHook')) "
                'to the config (mmltml\'s configs/_base_/default_runtime.py '
                'has it) for stock mmpretrain heads.')


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float('nan')


def _plot_ap_vs_freq(rows: List[dict], path: str) -> None:
    """Scatter per-class AP against training frequency (log x axis)."""
    from matplotlib.figure import Figure  # Agg canvas, no pyplot state

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for group, color in zip(GROUP_NAMES,
                            ('tab:blue', 'tab:orange', 'tab:red')):
        pts = [(r['train_freq'], r['ap']) for r in rows
               if r['group'] == group and r['ap'] is not None]
        if pts:
            ax.scatter(*zip(*pts), s=14, color=color, label=group)
    ax.set_xscale('symlog', linthresh=1)
    ax.set_xlabel('training images of the class')
    ax.set_ylabel('AP (%)')
    ax.set_ylim(0, 100)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
