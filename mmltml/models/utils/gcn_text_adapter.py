# Copyright (c) mmltml contributors. All rights reserved.
"""A graph-convolutional network over the class text embeddings."""
import math
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmltml.datasets import load_class_stats
from mmltml.structures.class_dependent import ClassDependent, ClassField
from mmltml.structures.label_graph import (mlgcn_adjacency,
                                           text_similarity_adjacency)
from ..text_embeds import ClassTextEmbeds

#: Graph modes of :class:`GCNTextAdapter` and their keys (besides ``mode``).
GRAPH_MODES = {
    'cooccurrence': ('class_stats', 'threshold', 'reweight'),
    'text_similarity': ('text_embeds', 'topk', 'reweight'),
    'identity': (),
}


class GraphConvolution(nn.Module):
    r"""One graph-convolution layer :math:`H' = A\,(H W)`, no bias
    (ML-GCN's layer, Chen et al. CVPR 2019 Eq. 2, as LT-GCN uses it).

    ``W`` (``[in_dims, out_dims]``) is drawn from
    :math:`U(-1/\sqrt{d_{out}}, 1/\sqrt{d_{out}})`, as both official codes
    do.
    """

    def __init__(self, in_dims: int, out_dims: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_dims, out_dims))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.weight.size(1))
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, feats: torch.Tensor,
                adjacency: torch.Tensor) -> torch.Tensor:
        """``adjacency [C, C] @ (feats [C, in] @ W)`` -> ``[C, out]``."""
        return adjacency @ (feats @ self.weight)

    def extra_repr(self) -> str:
        return f'{self.weight.size(0)}, {self.weight.size(1)}, bias=False'


@MODELS.register_module()
class GCNTextAdapter(BaseModule, ClassDependent):
    r"""Refines class text embeddings with a GCN over a fixed label graph.

    With :math:`T \in \mathbb{R}^{C \times d_0}` the class embeddings (CLIP
    text features of the class prompts, or any ``ClassTextEmbeds``) and
    :math:`A` the label graph, layers :math:`l = 1..L`::

        H_0 = T
        H_l = LeakyReLU_0.2(A H_{l-1} W_l)      (l < L)
        H_L = A H_{L-1} W_L                     (no activation)
        T'  = H_L + b * T                       (residual, weight b)

    (ML-GCN Eq. 2 and Sec. 3.4; LT-GCN adds the residual with b = 1 and
    three layers). Widths ``d_0`` (``in_dims``), ``hidden_dims``, ``d_L``
    (``out_dims``): LT-GCN on CLIP RN50 1024 -> 2048 -> 2048 -> 1024
    (``in_dims=1024, hidden_dims=(2048, 2048)``), on ViT-B/16
    512 -> 1024 -> 1024 -> 512; ML-GCN 300 -> 1024 -> 2048 (GloVe; CLIP
    RN50 text: 1024 -> 1024 -> 2048), without residual. A head that knows
    the widths fills ``in_dims`` / ``out_dims`` in.

    The graph :math:`A` is **not learned**. It is the persistent buffer
    ``adjacency`` ``[C, C]`` (so checkpoints carry it and a test run needs
    neither the training list nor a text encoder), filled from ``graph``:

    - ``dict(mode='cooccurrence', class_stats=..., threshold=0.4,
      reweight=0.25)``: ML-GCN's co-occurrence graph
      (:func:`~mmltml.structures.mlgcn_adjacency`) of the **training**
      statistics given by ``class_stats`` (a source of
      :func:`~mmltml.datasets.load_class_stats`, e.g. the training list);
      computed when the module is built. With ``class_stats=None`` the
      graph must come from a checkpoint.
    - ``dict(mode='text_similarity', text_embeds=None, topk=None,
      reweight=0.2)``: LT-GCN's (SCPNet's) graph of the cosine
      similarities of class text embeddings
      (:func:`~mmltml.structures.text_similarity_adjacency`; top-k per
      row, diagonal :math:`1 - p`, off-diagonal mass :math:`p`;
      ``reweight=0`` is the identity LT-GCN's COCO-LT config amounts to).
      The embeddings are those of ``text_embeds`` (a text-embeddings source
      config, run by a :class:`ClassTextEmbeds` in :meth:`init_weights`),
      or, with ``text_embeds=None``, the adapter's input at its first call:
      the class-name embeddings of a frozen ``ClassTextEmbeds``, or the
      text features of prompts initialised from a template, before any
      training step.
    - ``dict(mode='identity')``: :math:`A = I` (a per-class MLP).

    Until it is computed or loaded ``adjacency`` holds NaN; the state is the
    buffer itself, so copies of the module (EMA models) and checkpoints
    carry it.

    Args:
        num_classes (int): Number of classes C.
        in_dims (int): Width ``d_0`` of the class embeddings.
        hidden_dims (Sequence[int]): Widths of the hidden layers' outputs.
            Defaults to ``(2048, 2048)`` (LT-GCN RN50).
        out_dims (int, optional): Width ``d_L`` of the output. Defaults to
            ``in_dims``.
        graph (dict): The label graph (see above).
        residual (float, optional): Weight b of the residual
            :math:`T' = \mathrm{GCN}(T) + bT` (LT-GCN: 1). None (or 0)
            disables it (ML-GCN). Needs ``out_dims == in_dims``.
        negative_slope (float): LeakyReLU slope. Defaults to 0.2.
        init_cfg (dict, optional): Initialisation config.

    Example (the graph's edge count is logged when it is computed)::

        adapter = MODELS.build(dict(
            type='GCNTextAdapter', num_classes=80, in_dims=1024,
            hidden_dims=(2048, 2048),
            graph=dict(mode='text_similarity', reweight=0.2)))
        refined = adapter(text_feats)    # [80, 1024] -> [80, 1024]
    """

    def __init__(self,
                 num_classes: int,
                 in_dims: int,
                 hidden_dims: Sequence[int] = (2048, 2048),
                 out_dims: Optional[int] = None,
                 graph: dict = dict(mode='text_similarity'),
                 residual: Optional[float] = 1.0,
                 negative_slope: float = 0.2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        out_dims = in_dims if out_dims is None else out_dims
        dims = [int(in_dims), *map(int, hidden_dims), int(out_dims)]
        if min(dims) < 1:
            raise ValueError(f'GCNTextAdapter widths must be positive, got '
                             f'{dims} (in_dims, *hidden_dims, out_dims)')
        if residual and dims[0] != dims[-1]:
            raise ValueError(f'a residual needs equal input and output '
                             f'widths, got dims={dims}')
        self.num_classes = num_classes
        #: the widths (d_0, ..., d_L)
        self.dims = dims
        self.residual = float(residual or 0.0)
        self.negative_slope = negative_slope
        self.layers = nn.ModuleList(
            GraphConvolution(d_in, d_out)
            for d_in, d_out in zip(dims[:-1], dims[1:]))
        self.graph_cfg = self._checked_graph(graph)
        self.register_buffer(
            'adjacency', torch.full((num_classes, num_classes), math.nan))
        self.class_freq: Optional[List[int]] = None
        self.num_train_images: Optional[int] = None
        self.graph_text: Optional[ClassTextEmbeds] = None
        mode = self.graph_cfg['mode']
        if mode == 'identity':
            self._set_graph(np.identity(num_classes))
        elif mode == 'cooccurrence' and \
                self.graph_cfg.get('class_stats') is not None:
            stats = load_class_stats(self.graph_cfg['class_stats'],
                                     num_classes=num_classes)
            self.class_freq = list(stats['class_freq'])
            self.num_train_images = stats['num_images']
            self._set_graph(mlgcn_adjacency(
                stats, self.graph_cfg.get('threshold', 0.4),
                self.graph_cfg.get('reweight', 0.25)))
        elif mode == 'text_similarity' and \
                self.graph_cfg.get('text_embeds') is not None:
            self.graph_text = ClassTextEmbeds(self.graph_cfg['text_embeds'],
                                              num_classes)

    @staticmethod
    def _checked_graph(graph: dict) -> dict:
        """``graph`` if its mode and keys are known."""
        graph = dict(graph)
        mode = graph.get('mode')
        if mode not in GRAPH_MODES:
            raise ValueError(f'graph mode must be one of '
                             f'{sorted(GRAPH_MODES)}, got {mode!r}')
        unknown = set(graph) - {'mode', *GRAPH_MODES[mode]}
        if unknown:
            raise ValueError(f'graph mode {mode!r} takes the keys '
                             f'{GRAPH_MODES[mode]}, got {sorted(unknown)}')
        return graph

    @property
    def graph_ready(self) -> bool:
        """Whether ``adjacency`` holds a graph (computed or loaded)."""
        return not bool(torch.isnan(self.adjacency).any())

    def _set_graph(self, adjacency: np.ndarray) -> None:
        """Store ``adjacency`` in the buffer and log its edges."""
        self.adjacency.copy_(torch.as_tensor(np.asarray(adjacency),
                                             dtype=torch.float32))
        off = self.adjacency.clone().fill_diagonal_(0)
        edges = int((off != 0).sum())
        in_degree = (off != 0).sum(0)
        hub = int(in_degree.argmax()) if edges else None
        print_log(
            f'GCNTextAdapter: {self.graph_cfg["mode"]} graph over '
            f'{self.num_classes} classes, {edges} off-diagonal edges' +
            (f', largest in-degree {int(in_degree.max())} (class {hub})'
             if edges else ''), logger='current')

    @torch.no_grad()
    def compute_graph(self, text: Optional[torch.Tensor] = None) -> None:
        """Fill ``adjacency`` (once): the text-similarity graph of the
        ``text_embeds`` source, else of ``text`` ``[C, m]``."""
        if self.graph_ready:
            return
        mode = self.graph_cfg['mode']
        if mode != 'text_similarity':
            raise RuntimeError(
                'GCNTextAdapter: the co-occurrence graph was built without '
                'class_stats and no checkpoint filled it: give '
                "graph=dict(mode='cooccurrence', class_stats=<the training "
                'statistics>) or load a checkpoint that holds '
                '"adjacency"')
        if self.graph_text is not None:
            text = self.graph_text()
        if text is None:
            raise RuntimeError('GCNTextAdapter: the text-similarity graph '
                               'needs class text embeddings')
        feats = text.detach().double().cpu().numpy()
        try:
            graph = text_similarity_adjacency(
                feats, self.graph_cfg.get('topk'),
                self.graph_cfg.get('reweight', 0.2))
        except ValueError as error:
            raise ValueError(f'GCNTextAdapter text-similarity graph: '
                             f'{error}') from error
        self._set_graph(graph.adjacency)

    def init_weights(self) -> None:
        """Initialise the layers (``init_cfg``) and compute a
        text-similarity graph from its ``text_embeds`` source."""
        super().init_weights()
        if self.graph_text is not None:
            self.compute_graph()

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        """The refined class embeddings :math:`T'` ``[C, d_L]`` of
        :math:`T` ``[C, d_0]`` (fp32)."""
        expected = [self.num_classes, self.dims[0]]
        if list(text.shape) != expected:
            raise ValueError(f'GCNTextAdapter takes class embeddings of '
                             f'shape {expected}, got {list(text.shape)}')
        if not self.graph_ready:
            self.compute_graph(text)
        text = text.float()
        feats = text
        last = len(self.layers) - 1
        for idx, layer in enumerate(self.layers):
            feats = layer(feats, self.adjacency)
            if idx < last:
                feats = F.leaky_relu(feats, self.negative_slope)
        if self.residual:
            feats = feats + self.residual * text
        return feats

    def class_fields(self) -> List[ClassField]:
        """``num_classes`` and the training statistics of a co-occurrence
        graph."""
        fields = [ClassField('num_classes', self.num_classes)]
        if self.class_freq is not None:
            fields.append(ClassField('class_freq', len(self.class_freq),
                                     'class statistics',
                                     self.num_train_images))
        return fields

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, dims={self.dims}, '
                f'graph={self.graph_cfg["mode"]}, residual={self.residual}')
