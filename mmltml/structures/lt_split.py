# Copyright (c) mmltml contributors. All rights reserved.
"""Drawing a long-tailed training subset from a multi-label image set.

The procedure of the DB-loss authors, who built COCO-LT and VOC-LT this way
(Wu et al., ECCV 2020; ``ref-dbloss.md`` §2.1), with two deliberate changes:

1. **Target curve** (:func:`pareto_targets`): the Pareto density with
   shape ``b`` (6) at ``C`` evenly spaced points between its 0 and
   ``quantile`` (0.99) quantiles, divided by its maximum, scaled to
   ``[min_count, max_count]`` and truncated to integers. With 80 classes,
   1200 and 1 this gives COCO-LT's targets 1200, 1084, 981, ..., 6, 6;
   with 20 classes, 800 and 1, VOC-LT's 800, 529, 359, ..., 5, 4.
2. **Which class gets which target** (:func:`rank_classes`): the largest
   target goes to the first class of a ranking, by default the classes'
   image counts in the full set (``'frequency'``); ``'cooccurrence'`` is
   the DB authors' ranking, by sum_i P(j | i) over the other classes i.
3. **Image-by-image sampling** (:func:`draw_lt_subset`): each class in
   turn, from the smallest target up, is brought to its target by adding
   images that contain it (when below) or removing selected ones (when
   above), one image at a time, so the labels co-occurring on an image are
   always taken along. *Change 1*: the DB script draws those images
   uniformly at random in one pass, and its counts follow the curve
   loosely (COCO-LT's second class has 624 images for a target of 1,084);
   here an image is preferred when it pushes fewer classes beyond their
   targets (adding) or below them (removing), the passes repeat (3 at
   most), and a polish then adds or removes single images while that
   lowers the relative deviation sum_c |n_c - t_c| / t_c. *Change 2*: a
   seeded NumPy generator instead of ``random.sample`` on Python sets,
   whose draws differ between Python versions.

How closely the counts can follow the curve depends on the data: an image
brings all its labels, so a class that co-occurs with most others (COCO's
person) ends above a small target. NumPy only, integer arithmetic: the same
label matrix, targets and seed give the same subset on any machine (with
the same NumPy version).
"""
from typing import NamedTuple, Sequence

import numpy as np

#: The target-class rankings of :func:`rank_classes`.
ORDERS = ('frequency', 'cooccurrence')


class LTSubset(NamedTuple):
    """A drawn subset and how it meets its targets."""
    indices: np.ndarray  #: sorted row indices of the selected images
    targets: np.ndarray  #: [C] target image count of each class
    counts: np.ndarray  #: [C] images of each class in the subset
    sweeps: int  #: passes over the classes that moved an image
    polish_steps: int  #: single-image changes of the polish


def pareto_targets(num_classes: int,
                   max_count: int,
                   min_count: int = 1,
                   shape: float = 6.0,
                   quantile: float = 0.99) -> np.ndarray:
    """Per-rank target image counts of the DB-loss Pareto curve.

    ``x`` takes ``num_classes`` evenly spaced values from the Pareto(b)
    quantile 0 (x = 1) to ``quantile`` (x = (1 - q)^(-1/b)); the target of
    rank r is ``int(pdf(x_r) / pdf(x_0) * (max_count - min_count) +
    min_count)`` with ``pdf(x) = b / x^(b + 1)``.

    Args:
        num_classes (int): Number of classes C.
        max_count (int): Target of the first rank.
        min_count (int): The curve's lower end (reached only in the limit
            of many classes). Defaults to 1.
        shape (float): Pareto shape b. Defaults to 6.
        quantile (float): Upper quantile of the sampled range. Defaults to
            0.99.

    Returns:
        np.ndarray: [C] int64 targets, non-increasing.

    Examples:
        >>> pareto_targets(20, 800)[:3].tolist()
        [800, 529, 359]
    """
    if num_classes < 1:
        raise ValueError(f'num_classes must be >= 1, got {num_classes}')
    if not 1 <= min_count <= max_count:
        raise ValueError(f'need 1 <= min_count <= max_count, got '
                         f'min_count={min_count}, max_count={max_count}')
    if shape <= 0 or not 0 < quantile < 1:
        raise ValueError(f'need shape > 0 and 0 < quantile < 1, got '
                         f'shape={shape}, quantile={quantile}')
    x = np.linspace(1.0, (1.0 - quantile)**(-1.0 / shape), num_classes)
    density = shape / x**(shape + 1)
    curve = density / density[0] * (max_count - min_count) + min_count
    return curve.astype(np.int64)


def rank_classes(labels: np.ndarray, order: str = 'frequency') -> np.ndarray:
    """Classes from the one that gets the largest target to the smallest.

    Args:
        labels (np.ndarray): [N, C] 0/1 label matrix of the full set.
        order (str): ``'frequency'``: by image count, largest first;
            ``'cooccurrence'``: by sum_i P(j | i) over the other classes
            i (the DB authors' ranking), largest first. Ties go to the
            more frequent class, then to the lower index.

    Returns:
        np.ndarray: [C] class indices.
    """
    if order not in ORDERS:
        raise ValueError(f'order must be one of {ORDERS}, got {order!r}')
    labels = np.asarray(labels, dtype=np.int64)
    freq = labels.sum(0)
    keys = [np.arange(labels.shape[1]), -freq]
    if order == 'cooccurrence':
        cooc = labels.T @ labels
        cond = cooc / np.maximum(freq, 1)[:, None]  # row i: P(j | i)
        np.fill_diagonal(cond, 0.0)
        keys.append(-cond.sum(0))
    return np.lexsort(keys)


def assign_targets(curve: Sequence[int], ranked: Sequence[int]) -> np.ndarray:
    """``targets[ranked[r]] = curve[r]``: the per-class targets."""
    targets = np.empty(len(curve), dtype=np.int64)
    targets[np.asarray(ranked)] = np.asarray(curve, dtype=np.int64)
    return targets


class _Sampler:
    """The state of one draw: selected images and class counts."""

    def __init__(self, labels: np.ndarray, targets: np.ndarray,
                 priority: np.ndarray):
        self.labels = labels
        self.targets = targets
        self.priority = priority
        self.selected = np.zeros(len(labels), dtype=bool)
        self.counts = np.zeros(labels.shape[1], dtype=np.int64)

    def _take(self, cls: int, adding: bool) -> bool:
        """Add (or remove) images containing ``cls`` one by one until it
        meets its target; the ranking of the candidates is recomputed
        whenever another class crosses its target."""
        labels, targets, counts = self.labels, self.targets, self.counts
        moved = False
        while counts[cls] != targets[cls]:
            pool = labels[:, cls] & (self.selected != adding)
            cand = np.flatnonzero(pool)
            if cand.size == 0:
                break
            # classes an image would push beyond (below) their targets
            blocked = counts >= targets if adding else counts <= targets
            blocked[cls] = False
            cost = labels[cand].astype(np.int64) @ blocked
            for i in cand[np.lexsort((self.priority[cand], cost))]:
                self.selected[i] = adding
                counts += labels[i] if adding else -labels[i].astype(
                    np.int64)
                moved = True
                if counts[cls] == targets[cls]:
                    break
                now = counts >= targets if adding else counts <= targets
                now[cls] = False
                if (labels[i] & now & ~blocked).any():
                    break  # rank the remaining candidates again
        return moved

    def polish(self, weights: np.ndarray, max_steps: int) -> int:
        """Single-image additions and removals that lower the weighted
        deviation sum_c w_c |counts_c - targets_c|, the best one first
        (the lowest priority among equals), until none is left. Integer
        weights keep the arithmetic exact. Returns the steps made."""
        labelled = self.labels.any(1)
        matrix = self.labels.astype(np.int64)
        for step in range(max_steps):
            # change of the deviation when one image of a class comes in
            # (goes out): -w below (above) the target, +w otherwise
            add = np.where(self.counts < self.targets, -weights, weights)
            remove = np.where(self.counts > self.targets, -weights, weights)
            delta = np.where(self.selected, matrix @ remove, matrix @ add)
            delta[~labelled] = 0
            best = delta.min()
            if best >= 0:
                return step
            ties = np.flatnonzero(delta == best)
            i = ties[np.argmin(self.priority[ties])]
            sign = -1 if self.selected[i] else 1
            self.selected[i] = not self.selected[i]
            self.counts += sign * matrix[i]
        return max_steps

    def sweep(self, class_order: np.ndarray) -> bool:
        """One pass over the classes; whether anything moved."""
        moved = False
        for cls in class_order:
            if self.counts[cls] != self.targets[cls]:
                moved |= self._take(int(cls),
                                    self.counts[cls] < self.targets[cls])
        return moved


def draw_lt_subset(labels: np.ndarray,
                   targets: Sequence[int],
                   seed: int,
                   sweeps: int = 3,
                   max_polish_steps: int = 100000) -> LTSubset:
    """Draw a subset whose class sizes follow ``targets`` (module
    docstring, step 3).

    Up to ``sweeps`` passes over the classes, from the smallest target up
    (fewer if a pass moves nothing), then the polish: single-image
    additions and removals that lower sum_c |counts_c - targets_c| /
    targets_c, the best first, until none is left.

    Args:
        labels (np.ndarray): [N, C] 0/1 label matrix of the full set.
        targets (Sequence[int]): [C] positive target image count of each
            class, each at most the class's count in ``labels`` (see
            :func:`unservable_classes`).
        seed (int): Seed of the random order among equally good images.
        sweeps (int): Most passes over the classes. Defaults to 3.
        max_polish_steps (int): Most polish steps. Defaults to 100000.

    Returns:
        LTSubset: The selected images and their class counts.
    """
    labels = np.asarray(labels).astype(bool)
    targets = np.asarray(targets, dtype=np.int64)
    if labels.ndim != 2 or labels.shape[1] != len(targets):
        raise ValueError(f'labels must be [N, {len(targets)}], got '
                         f'{labels.shape}')
    if targets.min() < 1:
        raise ValueError(f'targets must be positive, got {targets.min()}')
    bad = unservable_classes(labels, targets)
    if bad.size:
        raise ValueError(f'classes {bad.tolist()} have fewer images than '
                         'their targets')
    priority = np.random.default_rng(seed).permutation(len(labels))
    sampler = _Sampler(labels, targets, priority)
    class_order = np.lexsort((np.arange(len(targets)), targets))
    done = 0
    while done < sweeps and sampler.sweep(class_order):
        done += 1
    # relative deviations, as exact integers (weights ~ 1e6 / t_c)
    weights = np.rint(1e6 / targets).astype(np.int64)
    steps = sampler.polish(weights, max_polish_steps)
    return LTSubset(np.flatnonzero(sampler.selected), targets,
                    sampler.counts.copy(), done, steps)


def unservable_classes(labels: np.ndarray,
                       targets: Sequence[int]) -> np.ndarray:
    """Indices of the classes with fewer images in ``labels`` than their
    targets (a subset cannot serve them)."""
    available = np.asarray(labels).astype(bool).sum(0)
    return np.flatnonzero(available < np.asarray(targets))
