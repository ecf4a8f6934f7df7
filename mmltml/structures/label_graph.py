# Copyright (c) mmltml contributors. All rights reserved.
r"""Label graphs for graph-convolutional classifiers (numpy only).

Two constructions of a C x C graph over the classes, both fixed (not
learned), for a GCN that refines class embeddings (ML-GCN, LT-GCN, CapNet):

- :func:`mlgcn_adjacency`: ML-GCN's co-occurrence graph (Chen et al., CVPR
  2019, Sec. 3.3-3.4 and the official ``gen_A`` / ``gen_adj``), from the
  **training** class statistics (never the test split): conditional
  probabilities :math:`P_{ij} = P(L_j \mid L_i) = M_{ij} / n_i` (the
  paper's Eq. 6), binarised at :math:`\tau` (Eq. 7), re-weighted so that
  each column's off-diagonal mass is :math:`p`, identity added (the code's
  form of Eq. 8), normalised :math:`\hat A = D^{-1/2} A^\top D^{-1/2}` with
  :math:`D = \mathrm{diag}(\text{row sums of } A)`.
- :func:`text_similarity_adjacency` / :func:`similarity_adjacency`: LT-GCN's
  (SCPNet's) semantic graph from class-text similarities: top-k per row, a
  row-stochastic matrix with :math:`1 - p` on the diagonal and :math:`p`
  spread over the neighbours in proportion to their similarity; no
  symmetric normalisation. With a temperature it also returns the
  propagation matrix of SCPNet's consistency loss.

A graph computed from the configured class statistics is a function of the
training list only; a model stores it (a buffer) so that a checkpoint is
usable without that list.
"""
from typing import NamedTuple, Optional

import numpy as np

from .class_stats import cooccurrence_counts


def mlgcn_adjacency(stats: dict,
                    threshold: float = 0.4,
                    reweight: float = 0.25) -> np.ndarray:
    r"""ML-GCN's normalised co-occurrence graph from class statistics.

    Steps (official ``util.py`` ``gen_A`` then ``models.py`` ``gen_adj``):

    1. :math:`P_{ij} = M_{ij} / n_i` for :math:`i \ne j`, :math:`P_{ii} = 0`,
       with :math:`M` the co-occurrence counts and :math:`n_i` the class
       counts of the training set (a class without images has a zero row);
    2. :math:`B_{ij} = 1[P_{ij} \ge \tau]`;
    3. :math:`A = p\,B_{ij} / (\sum_k B_{kj} + 10^{-6}) + I` (a column
       normalisation; the paper's Eq. 8 normalises rows and puts
       :math:`1 - p` on the diagonal, the code does this);
    4. :math:`\hat A = D^{-1/2} A^\top D^{-1/2}`,
       :math:`D_{ii} = \sum_j A_{ij}`.

    On the LT training splits the graph is a star around "person" (the class
    most others co-occur with).

    Args:
        stats (dict): Training class statistics with ``class_freq`` and
            ``condition_prob`` (e.g. from
            :func:`mmltml.datasets.load_class_stats` of a training list).
        threshold (float): :math:`\tau`. Defaults to 0.4 (ML-GCN).
        reweight (float): :math:`p`, each column's off-diagonal mass.
            Defaults to 0.25 (the ML-GCN code).

    Returns:
        np.ndarray: float32 :math:`\hat A`, shape (C, C).

    Examples:
        >>> from mmltml.structures import compute_class_stats
        >>> stats = compute_class_stats(
        ...     [[0, 1], [0], [0], [0, 1], [2], [2, 0]], 3)
        >>> mlgcn_adjacency(stats).astype(float).round(4).tolist()
        [[0.8, 0.1054, 0.1054], [0.2108, 0.8889, 0.0], [0.0, 0.0, 0.8889]]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f'threshold must be in (0, 1], got {threshold}')
    if reweight < 0:
        raise ValueError(f'reweight must be >= 0, got {reweight}')
    counts = cooccurrence_counts(stats).astype(np.float64)
    freq = np.asarray(stats['class_freq'], dtype=np.float64)
    np.fill_diagonal(counts, 0)
    cond = counts / np.maximum(freq, 1)[:, None]
    binary = (cond >= threshold).astype(np.float64)
    adj = binary * reweight / (binary.sum(0, keepdims=True) + 1e-6)
    adj = adj + np.identity(len(freq))
    d_inv_sqrt = adj.sum(1)**-0.5
    return (d_inv_sqrt[:, None] * adj.T * d_inv_sqrt[None, :]).astype(
        np.float32)


class TextSimilarityGraph(NamedTuple):
    """LT-GCN's graphs over the classes (both float32, shape (C, C)).

    Attributes:
        adjacency: The GCN graph: row-stochastic, :math:`1 - p` on the
            diagonal, :math:`p` over the top-k neighbours.
        relation: The propagation matrix of SCPNet's consistency loss,
            row-softmax of ``adjacency / temperature`` restricted to the
            top-k and renormalised; None without a temperature.
    """
    adjacency: np.ndarray
    relation: Optional[np.ndarray]


def similarity_adjacency(similarity: np.ndarray,
                         topk: Optional[int] = None,
                         reweight: float = 0.2,
                         temperature: Optional[float] = None
                         ) -> TextSimilarityGraph:
    r"""LT-GCN's graph from a class-similarity matrix.

    With :math:`R` the similarity matrix (symmetric, diagonal 1 for
    cosines): keep the ``topk`` largest entries of each row (the diagonal
    counts as one of them), zero the others and the diagonal, then
    :math:`A_{ij} = p\,R_{ij} / \sum_{k \ne i} R_{ik}` for
    :math:`i \ne j` and :math:`A_{ii} = 1 - p` (LT-GCN ``model.py:196-209``;
    no :math:`D^{-1/2}` normalisation, no transpose). LT-GCN's configs use
    ``topk = C`` with :math:`p = 0.2` (VOC-LT; nearly ``0.8 I`` plus the
    mean of the others) and :math:`p = 0` (COCO-LT, :math:`A = I`).

    Args:
        similarity (array-like): :math:`R`, shape (C, C).
        topk (int, optional): Entries kept per row, including the diagonal;
            None keeps all C. Ties are broken by class index.
        reweight (float): :math:`p` in [0, 1]. Defaults to 0.2 (SCPNet).
        temperature (float, optional): :math:`T` of the consistency-loss
            matrix (LT-GCN: 0.3 VOC-LT, 0.2 COCO-LT); None skips it.

    Returns:
        TextSimilarityGraph: ``adjacency`` and ``relation``.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    num_classes = sim.shape[0]
    if sim.ndim != 2 or sim.shape[1] != num_classes:
        raise ValueError(f'similarity must be (C, C), got {sim.shape}')
    topk = num_classes if topk is None else int(topk)
    if not 1 <= topk <= num_classes:
        raise ValueError(f'topk must be in [1, {num_classes}], got {topk}')
    if not 0 <= reweight <= 1:
        raise ValueError(f'reweight must be in [0, 1], got {reweight}')
    order = np.argsort(-sim, axis=1, kind='stable')[:, :topk]
    kept = np.zeros_like(sim, dtype=bool)
    np.put_along_axis(kept, order, True, axis=1)
    neighbours = np.where(kept, sim, 0.0)
    np.fill_diagonal(neighbours, 0.0)
    mass = neighbours.sum(1, keepdims=True)
    if reweight > 0 and not np.all(mass > 0):
        rows = np.flatnonzero(mass[:, 0] <= 0).tolist()
        raise ValueError(f'classes {rows[:10]} have no neighbour with '
                         f'positive similarity among their top {topk}: '
                         'raise topk or use reweight=0')
    adjacency = reweight * neighbours / np.where(mass > 0, mass, 1.0)
    np.fill_diagonal(adjacency, 1 - reweight)
    relation = None
    if temperature is not None:
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        logits = adjacency / temperature
        soft = np.exp(logits - logits.max(1, keepdims=True))
        soft = np.where(kept, soft / soft.sum(1, keepdims=True), 0.0)
        relation = (soft / soft.sum(1, keepdims=True)).astype(np.float32)
    return TextSimilarityGraph(adjacency.astype(np.float32), relation)


def text_similarity_adjacency(text_feats: np.ndarray,
                              topk: Optional[int] = None,
                              reweight: float = 0.2,
                              temperature: Optional[float] = None
                              ) -> TextSimilarityGraph:
    """LT-GCN's graph from class-text embeddings: their cosine similarities
    through :func:`similarity_adjacency`.

    LT-GCN ships the similarity matrix of its text embeddings (SCPNet's
    ``relation+voc.npy``; cosines of CLIP text embeddings of the class
    names, by their values); give that matrix to
    :func:`similarity_adjacency` to reproduce it exactly.

    Args:
        text_feats (array-like): One embedding per class, shape (C, D), e.g.
            frozen CLIP text features of "a photo of a {name}." (detached,
            on the CPU).
        topk, reweight, temperature: See :func:`similarity_adjacency`.

    Returns:
        TextSimilarityGraph: ``adjacency`` and ``relation``.
    """
    feats = np.asarray(text_feats, dtype=np.float64)
    if feats.ndim != 2:
        raise ValueError(f'text_feats must be (C, D), got {feats.shape}')
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError('text_feats has an all-zero class embedding')
    unit = feats / norms
    return similarity_adjacency(unit @ unit.T, topk, reweight, temperature)
