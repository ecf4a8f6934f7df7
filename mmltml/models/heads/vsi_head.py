# Copyright (c) mmltml contributors. All rights reserved.
"""CPRFL's visual-semantic interaction head."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS

from mmltml.structures.class_dependent import ClassDependent, ClassField
from ..text_embeds import ClassTextEmbeds
from ..utils.vsi_block import VSIBlock
from .logits import PredLogitsMixin


@MODELS.register_module()
class VSIHead(PredLogitsMixin, MultiLabelClsHead, ClassDependent):
    r"""Visual-semantic interaction head of CPRFL.

    Category-Prompt Refined Feature Learning (CPRFL, Yan et al., ACM MM 2024,
    arXiv 2408.08125), computed as its official code does:

    - visual tokens :math:`F = \phi(X)`: the last backbone feature map
      (``[B, C_in, H, W]`` flattened row-major, or tokens ``[B, N, C_in]``)
      through a linear layer :math:`\phi: C_{in} \to d`;
    - class prompts (Eq. 2) :math:`P = \mathrm{PI}(T)`, with
      ``PI = Linear(m, tau * d) - GELU - Linear(tau * d, d)`` applied to the
      class text embeddings :math:`T \in \mathbb{R}^{C \times m}` (CPRFL:
      CLIP's of ``template.format(classname)``, not L2-normalised);
    - refined prompts (Eqs. 3-5) :math:`P'`: the prompt outputs of one VSI
      block (:class:`~mmltml.models.utils.vsi_block.VSIBlock`: pre-norm
      multi-head attention and FFN, **no residuals** by default, no
      positional encoding) run on the tokens :math:`[F; P]`;
    - scores (Eq. 6) :math:`s_i = \langle P'_i, P_i \rangle`: the dot product
      of each refined prompt with its own prompt. No scale, no bias; the
      sigmoid is applied by the loss and in :meth:`predict`, which also
      keeps the scores as ``pred_logits``
      (:mod:`mmltml.models.heads.logits` says why).

    The prompts receive gradients through both the VSI input and the
    classifier of Eq. 6 (the paper's "dual-path back-propagation" is this
    plain joint autograd). ``no_cls_grad`` / ``no_feature_grad`` cut one
    path each, as the official ablation switches do.

    The text embeddings :math:`T` are the submodule ``text_embeds``, a
    :class:`~mmltml.models.text_embeds.ClassTextEmbeds` built from the
    argument ``text_embeds``: a config of a registered source
    (:mod:`mmltml.models.text_embeds`; fragments in
    ``configs/_base_/text_embeds/``) or a tensor ``[C, m]``:

    - ``CLIPClassTextEmbeds``: a frozen open_clip text encoder run once on
      the class prompts (the paper), or with ``trainable=True`` the text
      tower, recomputed every forward pass with trainable weights (the
      official code);
    - ``RandomTextEmbeds``: fixed N(0, 1) vectors, the paper's random
      initialisation of Fig. 3 (the PI network alone makes the prompts);
    - ``FileTextEmbeds``: a ``.pt`` tensor or ``.npy`` array.

    ``ClassTextEmbeds`` owns their lifecycle: frozen embeddings in a
    persistent buffer, CLIP run in ``init_weights`` or not at all when a
    checkpoint holds its output, the trainable tower's pretrained weights
    kept from the head's ``init_cfg``. Checkpoints written before it
    (keys ``text_embeds``, ``text_encoder.*``) load as they are.

    The default loss is the plugin's ``CPRFLAsymmetricLoss`` (CPRFL's ASL:
    gamma- 4, gamma+ 0, clip 0.05, focusing weight detached, mean over
    B x C); any mmpretrain multi-label loss config works, e.g.
    ``dict(type='AsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0, clip=0.05)``.

    Args:
        num_classes (int): Number of classes C.
        in_channels (int): Channels C_in of the backbone feature map.
        text_embeds (dict | Tensor): The class text embeddings: a config
            of a text-embeddings source (``num_classes`` is filled in),
            e.g. ``dict(type='CLIPClassTextEmbeds', classnames='coco-lt')``,
            or precomputed embeddings ``[C, m]``.
        embed_dims (int): Width d of visual tokens and prompts.
            Defaults to 2048.
        num_heads (int): Attention heads of the VSI block. Defaults to 8.
        head_dims (int): Width of one attention head. Defaults to 512.
        mlp_dims (int): Hidden width of the VSI FFN. Defaults to 2048.
        dropout (float): Dropout of the VSI block. Defaults to 0.1.
        pi_ratio (float): Hidden width of PI as a fraction tau of d.
            Defaults to 0.5.
        query_mode (str): ``'prompts'`` runs only the C prompts as VSI
            queries (exact, faster); ``'all'`` runs all tokens and keeps the
            last C, as the official code does. Defaults to ``'prompts'``.
        residual (bool): Use a standard residual VSI block instead of the
            official residual-free one. Defaults to False.
        no_cls_grad (bool): Detach P in the score (ablation).
            Defaults to False.
        no_feature_grad (bool): Detach P' in the score (ablation).
            Defaults to False.
        loss (dict | nn.Module): Classification loss. Defaults to
            ``dict(type='CPRFLAsymmetricLoss')``.
        thr (float, optional): Score threshold of positive predictions.
        topk (int, optional): Number of positive predictions.
        init_cfg (dict, optional): Initialisation of the head's layers; a
            pretrained CLIP text tower keeps its weights. Defaults to None
            (PyTorch default initialisation, as in the official code).

    Examples:
        >>> import torch
        >>> from mmpretrain.registry import MODELS
        >>> head = MODELS.build(dict(
        ...     type='VSIHead', num_classes=3, in_channels=16, embed_dims=32,
        ...     num_heads=2, head_dims=8, mlp_dims=32,
        ...     text_embeds=torch.randn(3, 24)))
        >>> head((torch.rand(2, 16, 7, 7), )).shape
        torch.Size([2, 3])
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 text_embeds: Union[dict, torch.Tensor],
                 embed_dims: int = 2048,
                 num_heads: int = 8,
                 head_dims: int = 512,
                 mlp_dims: int = 2048,
                 dropout: float = 0.1,
                 pi_ratio: float = 0.5,
                 query_mode: str = 'prompts',
                 residual: bool = False,
                 no_cls_grad: bool = False,
                 no_feature_grad: bool = False,
                 loss: Union[Dict,
                             nn.Module] = dict(type='CPRFLAsymmetricLoss'),
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(
                f'num_classes ({num_classes}) must be a positive integer.')
        if query_mode not in ('prompts', 'all'):
            raise ValueError(
                f"query_mode must be 'prompts' or 'all', got {query_mode!r}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.query_mode = query_mode
        self.no_cls_grad = no_cls_grad
        self.no_feature_grad = no_feature_grad
        self.text_embeds = ClassTextEmbeds(text_embeds, num_classes)
        self.register_load_state_dict_pre_hook(_load_legacy_text_keys)

        self.phi = nn.Linear(in_channels, embed_dims)
        hidden_dims = int(embed_dims * pi_ratio)
        self.prompt_init = nn.Sequential(
            nn.Linear(self.text_embeds.dims, hidden_dims), nn.GELU(),
            nn.Linear(hidden_dims, embed_dims))
        self.vsi = VSIBlock(embed_dims, num_heads, head_dims, mlp_dims,
                            dropout, residual)

    def class_prompts(self) -> torch.Tensor:
        """The class prompts P = PI(T) (Eq. 2), shape ``[C, d]``."""
        return self.prompt_init(self.text_embeds())

    def _visual_tokens(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The last feature map as tokens ``phi(X)``, ``[B, N, d]``."""
        x = feats[-1]
        if x.dim() == 4:
            x = x.flatten(2).transpose(1, 2)
        elif x.dim() != 3:
            raise ValueError('VSIHead takes [B, C, H, W] feature maps or '
                             f'[B, N, C] tokens, got shape {list(x.shape)}')
        return self.phi(x)

    def _refine(self, feats: Tuple[torch.Tensor],
                prompts: torch.Tensor) -> torch.Tensor:
        """The refined prompts P' (Eqs. 3-5), ``[B, C, d]``."""
        visual = self._visual_tokens(feats)
        tokens = torch.cat(
            [visual, prompts.expand(visual.size(0), -1, -1)], dim=1)
        if self.query_mode == 'prompts':
            return self.vsi(tokens, num_queries=self.num_classes)
        return self.vsi(tokens)[:, -self.num_classes:]

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The refined class prompts P', shape ``[B, C, d]``."""
        return self._refine(feats, self.class_prompts())

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The class scores (Eq. 6), shape ``[B, C]``."""
        prompts = self.class_prompts()
        refined = self._refine(feats, prompts)
        if self.no_feature_grad:
            refined = refined.detach()
        if self.no_cls_grad:
            prompts = prompts.detach()
        return (refined * prompts).sum(dim=-1)

    def class_fields(self) -> List[ClassField]:
        """``num_classes`` (its text embeddings are checked against it
        when built)."""
        return [ClassField('num_classes', self.num_classes)]


def _load_legacy_text_keys(module: VSIHead, state_dict: dict, prefix: str,
                           *args) -> None:
    """Load pre-hook: checkpoints written before the text embeddings
    became a :class:`ClassTextEmbeds` held the buffer ``text_embeds`` or
    the trainable tower ``text_encoder`` on the head itself."""
    old, new = f'{prefix}text_embeds', f'{prefix}text_embeds.embeds'
    if old in state_dict:
        state_dict[new] = state_dict.pop(old)
    old = f'{prefix}text_encoder.'
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[f'{prefix}text_embeds.source.{key[len(old):]}'] = \
            state_dict.pop(key)
