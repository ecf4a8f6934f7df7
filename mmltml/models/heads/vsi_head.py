# Copyright (c) mmltml contributors. All rights reserved.
"""CPRFL's visual-semantic interaction head."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils.clip_loader import (build_clip_and_tokenizer, check_quick_gelu,
                                  named_model_cfg)
from ..utils.clip_text_encoder import CLIPTextEncoder, format_prompts
from ..utils.vsi_block import VSIBlock
from .logits import attach_logits

ClassNames = Union[str, Sequence[str], None]


@MODELS.register_module()
class VSIHead(MultiLabelClsHead):
    r"""Visual-semantic interaction head of CPRFL.

    Category-Prompt Refined Feature Learning (CPRFL, Yan et al., ACM MM 2024,
    arXiv 2408.08125), computed as its official code does:

    - visual tokens :math:`F = \phi(X)`: the last backbone feature map
      (``[B, C_in, H, W]`` flattened row-major, or tokens ``[B, N, C_in]``)
      through a linear layer :math:`\phi: C_{in} \to d`;
    - class prompts (Eq. 2) :math:`P = \mathrm{PI}(T)`, with
      ``PI = Linear(m, tau * d) - GELU - Linear(tau * d, d)`` applied to the
      CLIP text embeddings :math:`T \in \mathbb{R}^{C \times m}` of
      ``template.format(classname)`` (not L2-normalised);
    - refined prompts (Eqs. 3-5) :math:`P'`: the prompt outputs of one VSI
      block (:class:`~mmltml.models.utils.vsi_block.VSIBlock`: pre-norm
      multi-head attention and FFN, **no residuals** by default, no
      positional encoding) run on the tokens :math:`[F; P]`;
    - scores (Eq. 6) :math:`s_i = \langle P'_i, P_i \rangle`: the dot product
      of each refined prompt with its own prompt. No scale, no bias; the
      sigmoid is applied by the loss and in :meth:`predict`, which also
      keeps the fp32 scores themselves as ``pred_logits`` (what
      ``GroupMAP`` ranks by: the fp32 sigmoid saturates at 1.0 above
      about 16.6).

    The prompts receive gradients through both the VSI input and the
    classifier of Eq. 6 (the paper's "dual-path back-propagation" is this
    plain joint autograd). ``no_cls_grad`` / ``no_feature_grad`` cut one
    path each, as the official ablation switches do.

    The text embeddings come from, in this order: ``text_embeds`` (a tensor),
    ``text_embeds_file`` (a ``.pt`` tensor or ``.npy`` array),
    ``random_text_dims`` (fixed N(0, 1) vectors, the paper's random
    initialisation of Fig. 3: the PI network alone then makes the prompts),
    or a frozen open_clip text encoder run once on ``classnames``. They are
    kept in the persistent buffer ``text_embeds``, so checkpoints carry
    them, and the CLIP model is not kept. The CLIP embeddings are computed
    in :meth:`init_weights` (what mmengine's runner calls before training),
    not at construction: a model built for testing and filled from a
    checkpoint never builds or downloads CLIP. A head that is neither
    initialised nor loaded computes them at its first forward pass. With
    ``text_encoder_trainable=True`` the open_clip text tower becomes the
    submodule ``text_encoder`` and the embeddings are recomputed every
    forward pass with trainable weights, as the official code does (the
    paper says the encoder is frozen); its architecture is built at
    construction and its pretrained weights are loaded by
    :meth:`init_weights` (a checkpoint holds the trained ones).

    The default loss is the plugin's ``CPRFLAsymmetricLoss`` (CPRFL's ASL:
    gamma- 4, gamma+ 0, clip 0.05, focusing weight detached, mean over
    B x C); any mmpretrain multi-label loss config works, e.g.
    ``dict(type='AsymmetricLoss', gamma_pos=0.0, gamma_neg=4.0, clip=0.05)``.

    Args:
        num_classes (int): Number of classes C.
        in_channels (int): Channels C_in of the backbone feature map.
        classnames (str | Sequence[str], optional): Class names, or a spec
            for :func:`mmltml.datasets.categories.get_class_names`
            (``'coco-lt'``, ``'voc-lt'`` or a label-file path). Needed unless
            ``text_embeds``, ``text_embeds_file`` or ``random_text_dims``
            is given.
        template (str): Prompt template. Defaults to ``'a photo of a {}.'``.
        text_embeds (Tensor, optional): Precomputed embeddings ``[C, m]``.
        text_embeds_file (str, optional): File with the embeddings ``[C, m]``.
        random_text_dims (int, optional): Use random embeddings ``[C, m]``
            of this width m instead of CLIP's, drawn once from N(0, 1) with
            ``random_text_seed`` (Fig. 3 ablation).
        random_text_seed (int): Seed of the random embeddings. Defaults
            to 0.
        clip_model_name (str, optional): open_clip model name of the text
            encoder. Defaults to ``'RN50-quickgelu'``.
        clip_pretrained (str, optional): Its pretrained tag or local weights
            file. Defaults to ``'openai'``.
        clip_model_cfg (dict, optional): An open_clip ``CLIP`` config dict;
            replaces ``clip_model_name``, and ``clip_pretrained`` must then be
            a local file or None.
        text_encoder_trainable (bool): Keep the text encoder as a trainable
            submodule and recompute the embeddings every forward pass.
            Defaults to False.
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
        init_cfg (dict, optional): Initialisation of the head's layers; it
            never reaches the CLIP text encoder. Defaults to None (PyTorch
            default initialisation, as in the official code).

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
                 classnames: ClassNames = None,
                 template: str = 'a photo of a {}.',
                 text_embeds: Optional[torch.Tensor] = None,
                 text_embeds_file: Optional[str] = None,
                 random_text_dims: Optional[int] = None,
                 random_text_seed: int = 0,
                 clip_model_name: Optional[str] = 'RN50-quickgelu',
                 clip_pretrained: Optional[str] = 'openai',
                 clip_model_cfg: Optional[dict] = None,
                 text_encoder_trainable: bool = False,
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

        clip_source = dict(
            model_name=None if clip_model_cfg else clip_model_name,
            pretrained=clip_pretrained,
            model_cfg=clip_model_cfg)
        self.text_dims = self._init_text_source(
            classnames, template, text_embeds, text_embeds_file,
            random_text_dims, random_text_seed, clip_source,
            text_encoder_trainable)

        self.phi = nn.Linear(in_channels, embed_dims)
        hidden_dims = int(embed_dims * pi_ratio)
        self.prompt_init = nn.Sequential(
            nn.Linear(self.text_dims, hidden_dims), nn.GELU(),
            nn.Linear(hidden_dims, embed_dims))
        self.vsi = VSIBlock(embed_dims, num_heads, head_dims, mlp_dims,
                            dropout, residual)

    def _init_text_source(self, classnames: ClassNames, template: str,
                          text_embeds: Optional[torch.Tensor],
                          text_embeds_file: Optional[str],
                          random_text_dims: Optional[int],
                          random_text_seed: int, clip_source: dict,
                          trainable: bool) -> int:
        """Set up the inputs of the PI network (a frozen ``text_embeds``
        buffer or a trainable ``text_encoder``); return their width. CLIP
        weights are left to :meth:`init_weights` (``_pending_clip``)."""
        given = text_embeds is not None or text_embeds_file is not None
        self._pending_clip: Optional[dict] = None
        if not given and random_text_dims is None:
            check_quick_gelu(**clip_source)  # refuse now, not at init
        self.register_load_state_dict_pre_hook(_loaded_from_checkpoint)
        if random_text_dims is not None:
            if given or trainable:
                raise ValueError(
                    'random_text_dims replaces the text embeddings: do not '
                    'combine it with text_embeds, text_embeds_file or '
                    'text_encoder_trainable.')
            text_embeds = self._random_text_embeds(random_text_dims,
                                                   random_text_seed)
            given = True
        if trainable:
            if given:
                raise ValueError(
                    'text_encoder_trainable=True computes the text '
                    'embeddings with the CLIP text tower; do not pass '
                    'text_embeds or text_embeds_file.')
            self.text_encoder = self._build_text_encoder(
                classnames, template, dict(clip_source, pretrained=None))
            if clip_source['pretrained'] is not None:
                self._pending_clip = clip_source
            with torch.no_grad():
                return self.text_encoder().shape[-1]
        if given:
            embeds = self._frozen_text_embeds(text_embeds, text_embeds_file)
        else:
            self._class_names(classnames)  # fail early on a count mismatch
            embeds = torch.zeros(self.num_classes, _clip_width(clip_source))
            self._pending_clip = dict(
                clip_source, classnames=classnames, template=template)
        self.register_buffer('text_embeds', embeds, persistent=True)
        return embeds.shape[-1]

    def _class_names(self, classnames: ClassNames) -> List[str]:
        """Resolve ``classnames`` and check their number."""
        if classnames is None:
            raise ValueError('classnames are needed to compute the text '
                             'embeddings (or pass text_embeds(_file)).')
        if isinstance(classnames, str):
            from mmltml.datasets.categories import get_class_names
            classnames = get_class_names(classnames)
        classnames = list(classnames)
        if len(classnames) != self.num_classes:
            raise ValueError(f'{len(classnames)} class names for '
                             f'num_classes={self.num_classes}')
        return classnames

    def _build_text_encoder(self, classnames: ClassNames, template: str,
                            clip_source: dict) -> CLIPTextEncoder:
        """The open_clip text tower applied to the class prompts."""
        prompts = format_prompts(self._class_names(classnames), template)
        clip_model, tokenizer = build_clip_and_tokenizer(**clip_source)
        return CLIPTextEncoder(clip_model, tokenizer, prompts)

    def _random_text_embeds(self, dims: int, seed: int) -> torch.Tensor:
        """Fixed N(0, 1) embeddings ``[C, dims]`` (no CLIP is built)."""
        if dims <= 0:
            raise ValueError(
                f'random_text_dims ({dims}) must be a positive integer.')
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(self.num_classes, dims, generator=generator)

    def _frozen_text_embeds(self, text_embeds: Optional[torch.Tensor],
                            text_embeds_file: Optional[str]) -> torch.Tensor:
        """The text embeddings ``[C, m]`` from a tensor or a file."""
        if text_embeds is not None:
            embeds = torch.as_tensor(text_embeds)
        else:
            embeds = _load_embeds(text_embeds_file)
        return self._checked_embeds(embeds)

    def _checked_embeds(self, embeds: torch.Tensor) -> torch.Tensor:
        embeds = embeds.detach().float().cpu()
        if embeds.dim() != 2 or embeds.size(0) != self.num_classes:
            raise ValueError(f'text embeddings must have shape '
                             f'[{self.num_classes}, m], got '
                             f'{list(embeds.shape)}')
        return embeds

    @torch.no_grad()
    def _load_clip(self) -> None:
        """Compute the CLIP text embeddings (frozen) or load the pretrained
        weights of the text encoder (trainable), once. The global RNG is
        left as it was (building CLIP draws random initial weights)."""
        source, self._pending_clip = self._pending_clip, None
        if source is None:
            return
        with torch.random.fork_rng(devices=[]):
            if hasattr(self, 'text_encoder'):
                clip_model, _ = build_clip_and_tokenizer(**source)
                state = {
                    k: v
                    for k, v in clip_model.state_dict().items()
                    if not k.startswith('visual.')
                }
                self.text_encoder.clip.load_state_dict(state)
                return
            classnames = source.pop('classnames')
            template = source.pop('template')
            encoder = self._build_text_encoder(classnames, template, source)
            embeds = self._checked_embeds(encoder.eval()())
        if embeds.shape != self.text_embeds.shape:
            raise ValueError(f'CLIP text embeddings have shape '
                             f'{list(embeds.shape)}, expected '
                             f'{list(self.text_embeds.shape)}')
        self.text_embeds.copy_(embeds)

    def init_weights(self) -> None:
        """Initialise the head (``init_cfg`` never touches CLIP weights),
        then compute the CLIP text embeddings or load the text encoder's
        pretrained weights."""
        text_encoder = self._modules.pop('text_encoder', None)
        try:
            super().init_weights()
        finally:
            if text_encoder is not None:
                self._modules['text_encoder'] = text_encoder
        self._load_clip()

    def class_prompts(self) -> torch.Tensor:
        """The class prompts P = PI(T) (Eq. 2), shape ``[C, d]``."""
        if self._pending_clip is not None:  # neither initialised nor loaded
            self._load_clip()
        if hasattr(self, 'text_encoder'):
            return self.prompt_init(self.text_encoder())
        return self.prompt_init(self.text_embeds)

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

    def _get_predictions(self, cls_score: torch.Tensor,
                         data_samples: Optional[List[DataSample]]
                         ) -> List[DataSample]:
        """mmpretrain's predictions (``pred_score``, ``pred_label``) plus
        the fp32 scores of Eq. 6 as ``pred_logits``."""
        data_samples = super()._get_predictions(cls_score, data_samples)
        return attach_logits(data_samples, cls_score)


def _loaded_from_checkpoint(module: VSIHead, state_dict: dict, prefix: str,
                            *args) -> None:
    """Load pre-hook: a checkpoint that holds the text embeddings (or the
    text encoder) makes the pending CLIP computation unnecessary."""
    key = (f'{prefix}text_encoder.' if hasattr(module, 'text_encoder') else
           f'{prefix}text_embeds')
    if any(k.startswith(key) for k in state_dict):
        module._pending_clip = None


def _clip_width(clip_source: dict) -> int:
    """Width of the CLIP text features (the joint embedding), from the
    open_clip config without building the model."""
    cfg = clip_source['model_cfg']
    if cfg is None:
        import open_clip
        cfg = open_clip.get_model_config(clip_source['model_name'])
        if cfg is None:
            raise ValueError(
                f'open_clip has no config for {clip_source["model_name"]!r}'
                f' (open_clip.list_models())')
    elif isinstance(cfg, str):
        cfg = named_model_cfg(cfg)
    return int(cfg['embed_dim'])


def _load_embeds(path: str) -> torch.Tensor:
    """Load a ``.pt`` tensor or a ``.npy`` array."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'text embeddings file not found: {path}')
    try:
        if path.endswith('.npy'):
            return torch.from_numpy(np.load(path))
        embeds = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # unpickling, zip and numpy format errors
        raise ValueError(f'text embeddings file {path} cannot be read: '
                         f'{type(error).__name__}: {error}') from error
    if not isinstance(embeds, torch.Tensor):
        raise TypeError(f'{path} must hold a tensor, got '
                        f'{type(embeds).__name__}')
    return embeds
