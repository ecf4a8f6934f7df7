# Copyright (c) mmltml contributors. All rights reserved.
"""The image tower of an open_clip model as an mmpretrain backbone."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmltml.structures.frozen_image_encoder import IMAGE_FEATS
from ..utils.clip_loader import build_open_clip
from ..utils.dual_view_features import DualViewFeatures
from ..utils.frozen_state import (exclude_from_checkpoints,
                                  rebuilt_at_construction)

OUT_TYPES = ('featmap', 'dual_view', 'embedding')


@MODELS.register_module()
class CLIPVisionBackbone(BaseModule):
    """Feature maps (or the image embedding) of an open_clip image tower
    (ViT or ModifiedResNet).

    Builds an open_clip ``CLIP`` with
    :func:`~mmltml.models.utils.clip_loader.build_open_clip` (a model name and
    pretrained tag, or a config dict), keeps its image tower ``visual`` and
    drops the text tower. ``forward`` returns a tuple of ``[B, C, H, W]``
    maps, one per entry of ``out_indices``, from open_clip's own
    ``forward_intermediates``:

    - ``VisionTransformer``: the patch tokens (class token removed) after
      transformer block ``i`` (``-1``: the last), through the final
      LayerNorm ``ln_post`` when ``normalize=True`` (for the last block and
      the usual CLIP ViTs these are exactly the ``tokens`` open_clip returns
      with ``output_tokens=True``), laid out on the patch grid: ViT-B/16 at
      224 px gives ``[B, 768, 14, 14]``. The projection to the joint
      embedding space is not applied.
    - ``ModifiedResNet``: the output of stage ``i`` (0: stem, 1-4: layer1 to
      layer4; ``-1``: layer4, before the attention pooling): RN50 at 224 px
      gives ``[B, 2048, 7, 7]``.

    The parts that only serve the pooled image embedding (the ViT projection
    ``proj``, the ResNet attention pooling ``attnpool``; ``ln_post`` when
    ``normalize=False``) are removed, so every kept parameter is used.

    With ``out_type='dual_view'`` (HP-DVAL's student, ref-hpdval §1.2) the
    tower keeps them and ``forward`` returns a
    :class:`~mmltml.models.utils.dual_view_features.DualViewFeatures`
    ``(cls_embed [B, E], patch_embeds [B, P, E])`` in the joint embedding
    space, not L2-normalised:

    - ``VisionTransformer``: ``Z = ln_post(tokens)`` on **all** tokens of
      the last block (open_clip's ``output_tokens=True`` tokens, plus the
      class token), then ``Z @ proj``: ``cls_embed`` is exactly
      ``encode_image`` (LayerNorm acts per token), ``patch_embeds`` the
      P = 196 patches of ViT-B/16 at 224 px, as the released HP-DVAL code
      computes them;
    - ``ModifiedResNet`` (not in HP-DVAL, which uses a ViT): ``cls_embed``
      is the attention pool's output (``encode_image``) and
      ``patch_embeds`` the attention pool's value path at each layer4
      position, ``c_proj(v_proj(x_j + pos_j))`` (MaskCLIP's dense CLIP
      features, Zhou et al. ECCV 2022): P = 49 for RN50 at 224 px.

    A dual-view backbone also takes cached features ``dict(image_feats=[B,
    1 + P, E])`` (``cls_embed`` first) and offers what
    :class:`~mmltml.models.classifiers.CLIPPromptClassifier` caches when
    the tower is frozen: :attr:`image_encoder`, :meth:`encode_image` and
    :attr:`feature_dim` (``(1 + P, E)``).

    With ``out_type='embedding'`` it instead returns ``(v, )``, the pooled
    and projected image embedding ``v = encode_image(x)`` ``[B, E]`` of
    open_clip's ``CLIP`` (not normalised; the whole tower is kept and
    ``out_indices`` / ``normalize`` do not apply): the image side of a
    cosine classifier over CLIP text embeddings, e.g. LM-CLIP's fully
    fine-tuned CLIP (:class:`~mmltml.models.heads.CLIPFineTuneHead`).

    Any head that takes feature maps works on top, e.g. ``VSIHead`` (which
    flattens the map row-major into tokens) or ``GlobalAveragePooling`` +
    a linear head. ViT towers only take their training resolution
    (``image_size`` of the open_clip config), as their positional
    embeddings are not interpolated.

    With ``frozen=True`` (default) the tower gets no gradients, runs under
    ``torch.no_grad`` and stays in eval mode in ``train()`` (no BatchNorm
    statistic updates, no dropout). Checkpoints leave its weights out when
    they are rebuilt at construction (``clip_pretrained`` given and no
    ``init_cfg``), and store them otherwise (``save_frozen`` overrides
    this). With ``frozen=False`` it is trained like any backbone.

    Args:
        clip_model_name (str, optional): open_clip model name, e.g.
            ``'ViT-B-16-quickgelu'`` or ``'RN50-quickgelu'`` (OpenAI weights
            need the ``-quickgelu`` names; a mismatch is refused).
        clip_pretrained (str, optional): Pretrained tag (``'openai'``, LAION
            tags; downloaded by open_clip) or a local weights file.
        clip_model_cfg (dict, optional): open_clip ``CLIP`` config dict
            instead of ``clip_model_name``.
        out_indices (Sequence[int]): Blocks (ViT) or stages (ResNet) whose
            outputs are returned, negative from the end. Defaults to
            ``(-1, )`` (the only choice with ``out_type='dual_view'``).
        normalize (bool): Apply ``ln_post`` to ViT tokens. Ignored for
            ResNet towers. Defaults to True (required by ``'dual_view'``).
        out_type (str): ``'featmap'`` (default): feature maps;
            ``'dual_view'``: :class:`DualViewFeatures`; ``'embedding'``:
            ``(encode_image(x), )``; see above.
        frozen (bool): Freeze the tower. Defaults to True.
        save_frozen (bool, optional): Keep the frozen weights in checkpoints.
            Defaults to None: only when they do not come back when the
            model is rebuilt (no ``clip_pretrained``, e.g. a random tower,
            or weights loaded through ``init_cfg``). Set it to True for a
            frozen tower whose weights come from another checkpoint
            (``load_from``, e.g. HP-DVAL's stage 2 starting from stage 1).
        init_cfg (dict, optional): Initialisation config; the CLIP weights
            come from ``clip_pretrained``. Defaults to None.

    Examples:
        >>> import torch
        >>> from mmpretrain.registry import MODELS
        >>> backbone = MODELS.build(dict(
        ...     type='CLIPVisionBackbone',
        ...     clip_model_cfg=dict(
        ...         embed_dim=16,
        ...         vision_cfg=dict(layers=2, width=32, head_width=16,
        ...                         patch_size=8, image_size=32),
        ...         text_cfg=dict(context_length=8, vocab_size=100,
        ...                       width=16, heads=2, layers=1))))
        >>> [x.shape for x in backbone(torch.rand(2, 3, 32, 32))]
        [torch.Size([2, 32, 4, 4])]
    """

    def __init__(self,
                 clip_model_name: Optional[str] = None,
                 clip_pretrained: Optional[str] = None,
                 clip_model_cfg: Optional[dict] = None,
                 out_indices: Sequence[int] = (-1, ),
                 normalize: bool = True,
                 out_type: str = 'featmap',
                 frozen: bool = True,
                 save_frozen: Optional[bool] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from open_clip.modified_resnet import ModifiedResNet
        from open_clip.transformer import VisionTransformer
        self.out_type = out_type
        self.out_indices = [int(i) for i in out_indices]
        self.normalize = normalize
        self._check_out_type()
        visual = build_open_clip(clip_model_name, clip_pretrained,
                                 clip_model_cfg).visual
        if not isinstance(visual, (VisionTransformer, ModifiedResNet)):
            raise TypeError('CLIPVisionBackbone takes open_clip '
                            'VisionTransformer or ModifiedResNet towers, '
                            f'got {type(visual).__name__}')
        self.is_vit = isinstance(visual, VisionTransformer)
        if out_type == 'dual_view' and self.is_vit and \
                visual.attn_pool is not None:
            raise TypeError("out_type='dual_view' takes ViT towers with "
                            'class-token pooling (no attn_pool)')
        if out_type == 'featmap':
            _drop_pooling(visual, self.is_vit, normalize)
        self.visual = visual
        self.frozen = frozen
        if frozen:
            self.visual.requires_grad_(False)
            self.visual.eval()
            if save_frozen is None:
                save_frozen = not rebuilt_at_construction(clip_pretrained,
                                                          init_cfg)
            if not save_frozen:
                exclude_from_checkpoints(self, 'visual')

    def _check_out_type(self) -> None:
        if self.out_type not in OUT_TYPES:
            raise ValueError(f'out_type must be one of {OUT_TYPES}, got '
                             f'{self.out_type!r}')
        if self.out_type == 'dual_view' and (self.out_indices != [-1]
                                             or not self.normalize):
            raise ValueError("out_type='dual_view' takes the last block "
                             'through ln_post: out_indices=(-1, ) and '
                             f'normalize=True, got {self.out_indices} and '
                             f'{self.normalize}')

    def train(self, mode: bool = True) -> 'CLIPVisionBackbone':
        """Set the mode; a frozen tower stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self.visual.eval()
        return self

    def forward(
        self, x: Union[torch.Tensor, Dict[str, torch.Tensor]]
    ) -> Union[Tuple[torch.Tensor, ...], DualViewFeatures]:
        """Feature maps ``[B, C, H, W]``, one per ``out_indices`` entry;
        with ``out_type='dual_view'`` the :class:`DualViewFeatures` of
        images or of cached tokens ``dict(image_feats=[B, 1 + P, E])``;
        ``(encode_image(x), )`` for ``out_type='embedding'``."""
        if self.out_type == 'embedding':
            with torch.set_grad_enabled(torch.is_grad_enabled()
                                        and not self.frozen):
                return (self.visual(x), )
        if self.out_type == 'dual_view':
            if isinstance(x, dict):
                return DualViewFeatures.from_tokens(x[IMAGE_FEATS].float())
            with torch.set_grad_enabled(torch.is_grad_enabled()
                                        and not self.frozen):
                return DualViewFeatures.from_tokens(self._dual_view_tokens(x))
        kwargs = dict(indices=self.out_indices, intermediates_only=True)
        if self.is_vit:
            kwargs['normalize_intermediates'] = self.normalize
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            outs = self.visual.forward_intermediates(x, **kwargs)
        return tuple(outs['image_intermediates'])

    def _dual_view_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1 + P, E]``: the projected global token, then the local
        ones (see the class docstring)."""
        if self.is_vit:
            outs = self.visual.forward_intermediates(
                x, indices=[-1], normalize_intermediates=True,
                intermediates_only=True, output_fmt='NLC',
                output_extra_tokens=True)
            tokens = torch.cat([outs['image_intermediates_prefix'][0],
                                outs['image_intermediates'][0]], 1)
            return tokens @ self.visual.proj
        fmap = self.visual.forward_intermediates(
            x, indices=[-1], intermediates_only=True)['image_intermediates'][0]
        pool = self.visual.attnpool
        local = fmap.flatten(2).transpose(1, 2)
        local = local + pool.positional_embedding[1:].to(local.dtype)
        local = pool.c_proj(pool.v_proj(local))
        return torch.cat([pool(fmap)[:, None], local], 1)

    # -- what CLIPPromptClassifier caches (dual view only) ----------------
    def _require_dual_view(self, what: str) -> None:
        if self.out_type != 'dual_view':
            raise TypeError(f'CLIPVisionBackbone.{what} is defined for '
                            "out_type='dual_view' only")

    @property
    def image_encoder(self) -> nn.Module:
        """The image tower (frozen unless ``frozen=False``)."""
        return self.visual

    @property
    def feature_dim(self) -> Tuple[int, int]:
        """Shape ``(1 + P, E)`` of one image's cached dual view."""
        self._require_dual_view('feature_dim')
        if self.is_vit:
            num_local = int(self.visual.positional_embedding.shape[0]) - 1
        else:
            num_local = int(
                self.visual.attnpool.positional_embedding.shape[0]) - 1
        return (1 + num_local, int(self.visual.output_dim))

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Dual-view tokens ``[B, 1 + P, E]`` (fp32) of images, as cached
        (:meth:`DualViewFeatures.tokens` order)."""
        self._require_dual_view('encode_image')
        return self._dual_view_tokens(images).float()


def _drop_pooling(visual: nn.Module, is_vit: bool, normalize: bool) -> None:
    """Remove the parts of an image tower that only serve the pooled
    embedding (and ``ln_post`` of a ViT when its tokens are not
    normalised), so that every parameter of a trainable tower that returns
    feature maps gets a gradient (DDP needs it)."""
    if not is_vit:
        visual.attnpool = None
        return
    for name in ('proj', 'attn_pool', 'attn_pool_contrastive'):
        setattr(visual, name, None)
    if not normalize:
        visual.ln_post = nn.Identity()
