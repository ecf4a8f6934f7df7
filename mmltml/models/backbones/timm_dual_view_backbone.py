# Copyright (c) mmltml contributors. All rights reserved.
"""A timm ViT with a two-layer embedding as a dual-view backbone."""
from typing import Dict, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmltml.structures.frozen_image_encoder import IMAGE_FEATS
from ..utils.dual_view_features import DualViewFeatures


@MODELS.register_module()
class TimmDualViewBackbone(BaseModule):
    """HP-DVAL's student as the paper describes it (IEEE TIP 2025, Sec.
    IV-A.3): an ImageNet ViT-B/16 whose [CLS] and patch tokens pass through
    a two-layer embedding into CLIP's joint space.

    ``forward`` returns :class:`~mmltml.models.utils.dual_view_features.
    DualViewFeatures` ``(cls_embed [B, E], patch_embeds [B, P, E])``: the
    tokens of timm's ``forward_features`` (after the final norm; prefix
    tokens such as registers are dropped from the patches), each mapped by
    the same ``Linear(D, E1) - Tanh - Linear(E1, E2)`` embedding (768 ->
    512 -> 512 for ViT-B/16 and CLIP ViT-B/16's text space, as MKT's
    ``projection``, which HP-DVAL's released code keeps unused:
    ref-hpdval §1.2, §6.4). The released recipe uses CLIP's own image
    tower instead (:class:`CLIPVisionBackbone` with
    ``out_type='dual_view'``).

    Weights: ``pretrained=True`` lets timm load the tag of ``model_name``
    (e.g. ``'vit_base_patch16_224.augreg_in1k'``, downloaded by timm), a
    string is a local weights file (loaded by timm as the tag's file), and
    ``False`` keeps random weights. The embedding is always initialised
    here (random); checkpoints hold the whole backbone.

    Frozen (``frozen=True``, HP-DVAL's stage 2), the backbone gets no
    gradients, runs under ``torch.no_grad`` in eval mode, takes cached
    tokens ``dict(image_feats=[B, 1 + P, E])`` and offers them for caching
    (:attr:`image_encoder`, :meth:`encode_image`, :attr:`feature_dim`, as
    :class:`CLIPVisionBackbone` does).

    Args:
        model_name (str): A timm ViT name, e.g.
            ``'vit_base_patch16_224.augreg_in1k'``.
        pretrained (bool | str): timm weights (see above). Defaults to
            False.
        embed_dims (Sequence[int]): Widths of the two embedding layers.
            Defaults to ``(512, 512)``.
        frozen (bool): Freeze the backbone (ViT and embedding). Defaults to
            False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 model_name: str = 'vit_base_patch16_224.augreg_in1k',
                 pretrained: Union[bool, str] = False,
                 embed_dims: Sequence[int] = (512, 512),
                 frozen: bool = False,
                 init_cfg: Union[dict, None] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        import timm
        kwargs = dict(num_classes=0)
        if isinstance(pretrained, str):
            kwargs['pretrained_cfg_overlay'] = dict(file=pretrained)
        self.vit = timm.create_model(
            model_name, pretrained=bool(pretrained), **kwargs)
        # timm initialised (or loaded) the ViT; mmengine's init_weights
        # must not call timm's own init_weights, which redraws it
        self.vit.is_init = True
        if len(embed_dims) != 2:
            raise ValueError('embed_dims takes the widths of the two '
                             f'embedding layers, got {embed_dims}')
        self.embed = nn.Sequential(
            nn.Linear(self.vit.num_features, embed_dims[0]), nn.Tanh(),
            nn.Linear(embed_dims[0], embed_dims[1]))
        self.frozen = frozen
        if frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> 'TimmDualViewBackbone':
        """Set the mode; a frozen backbone stays in eval mode."""
        return super().train(mode and not self.frozen)

    def forward(
        self, x: Union[torch.Tensor, Dict[str, torch.Tensor]]
    ) -> DualViewFeatures:
        """The dual view of images, or of cached tokens
        ``dict(image_feats=[B, 1 + P, E])``."""
        if isinstance(x, dict):
            return DualViewFeatures.from_tokens(x[IMAGE_FEATS].float())
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            return DualViewFeatures.from_tokens(self._tokens(x))

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1 + P, E]``: the embedded class token, then the patches."""
        tokens = self.vit.forward_features(x)
        prefix = self.vit.num_prefix_tokens
        tokens = torch.cat([tokens[:, :1], tokens[:, prefix:]], 1)
        return self.embed(tokens)

    @property
    def image_encoder(self) -> nn.Module:
        """The whole backbone (ViT and embedding)."""
        return self

    @property
    def feature_dim(self) -> Tuple[int, int]:
        """Shape ``(1 + P, E)`` of one image's cached dual view."""
        return (1 + int(self.vit.patch_embed.num_patches),
                int(self.embed[-1].out_features))

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Dual-view tokens ``[B, 1 + P, E]`` (fp32) of images."""
        return self._tokens(images).float()
