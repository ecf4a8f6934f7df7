# Copyright (c) mmltml contributors. All rights reserved.
"""Frozen open_clip encoders with learnable (CoOp) or fixed class prompts."""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmltml.datasets.categories import get_class_names
from mmltml.structures.class_dependent import ClassDependent, ClassField
from mmltml.structures.frozen_image_encoder import IMAGE_FEATS
from ..utils.chunked_text import auto_chunk_size
from ..utils.clip_features import CLIPPromptFeatures
from ..utils.clip_loader import build_clip_and_tokenizer
from ..utils.clip_text import eot_positions, encode_text_embeddings
from ..utils.frozen_state import (exclude_from_checkpoints,
                                  rebuilt_at_construction)

FROZEN_DTYPES = {
    None: None,
    'fp32': torch.float,
    'bf16': torch.bfloat16,
    'fp16': torch.float16,
    'auto': None,
}


def resolve_class_names(classnames: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a list, a dataset preset name or a label file."""
    return list(get_class_names(classnames))


@MODELS.register_module()
class CLIPPromptBackbone(BaseModule, ClassDependent):
    """CLIP image and class-text features for prompt-tuned multi-label
    recognition (LMPT, CoOp and zero-shot CLIP are settings of it).

    Both open_clip encoders are frozen and kept in eval mode (no BatchNorm
    statistic updates for ResNet towers), unless ``image_tower_trainable``
    makes the image tower a trainable part of the model (LT-GCN's full
    fine-tuning: trained, BatchNorm in train mode, no feature cache). The
    class texts are either learned
    prompts ``[SOS] V_1..V_M <name>. [EOT]`` (:class:`PromptLearner`, LMPT
    Eq. 1; only ``V`` is trainable) or, with ``prompt_learner=None``, fixed
    templates whose normalised features are averaged (zero-shot CLIP, prompt
    ensembling). Text features are the projected end-of-text token (LMPT
    Eq. 2); the text tower runs only up to the longest end-of-text position,
    which is exact under the causal mask.

    With many classes the class prompts are encoded in chunks
    (``text_chunk_size``): the features are computed without keeping
    activations and each chunk is run again with autograd in the backward
    pass (:func:`~mmltml.models.utils.chunked_text.chunked_encode`), so
    the memory of a training step does not grow with the number of
    classes beyond the context itself, with the same features and
    gradients. The prompt embeddings [C, L, W] are then not kept
    (``prompt_embeds=None``; the token-space CSE loss needs them).

    ``forward`` takes a batch of images [B, 3, H, W] or of cached image
    features ``dict(image_feats=[B, E])`` and returns a
    :class:`CLIPPromptFeatures` ``(image_feats [B, E], text_feats [C, E],
    logit_scale, prompt_embeds [C, L, W] or None)``, a named tuple; the
    logits ``logit_scale * cos(image, text)`` are left to the head.

    Checkpoints hold only the learnable prompts when the frozen CLIP weights
    can be rebuilt from ``clip_pretrained`` at construction; a CLIP without
    pretrained weights (random initialisation) or with a trainable image
    tower is saved whole, since no other process could rebuild it.

    Args:
        classnames: class names, a preset ('coco-lt', 'voc-lt') or a label
            file path.
        clip_model_name: open_clip model name, e.g. ``'ViT-B-16-quickgelu'``
            or ``'RN50-quickgelu'`` (OpenAI weights need the ``-quickgelu``
            names; a mismatch is refused, see ``clip_loader``).
        clip_pretrained: pretrained tag (``'openai'``, LAION tags) or local
            weights file.
        clip_model_cfg: open_clip ``CLIP`` config dict instead of a name.
        prompt_learner: config of the prompt learner, built with this
            backbone's CLIP, tokenizer and class names (``type`` defaults
            to :class:`~mmltml.models.utils.PromptLearner`, whose arguments
            are ``n_ctx``, ``ctx_init``, ``class_specific``,
            ``init_std``); ``None`` for fixed templates.
        templates: zero-shot templates with ``{}`` for the class name.
        truncate_text: run the text tower only up to the last end-of-text.
        text_chunk_size: encode the class prompts in chunks of this many
            classes when there are more (exact gradients, memory of one
            chunk; one more text forward pass per step); ``0`` never;
            ``None`` (default) in chunks whose activations are estimated
            at 2 GiB (``auto_chunk_size`` of
            :mod:`mmltml.models.utils.chunked_text`: 189 classes for
            ViT-B/16 with 22 text positions, so COCO-LT's 80 run in one
            piece). Texts encoded
            without gradients (templates) use the same chunks.
        save_frozen: also save the frozen CLIP weights in checkpoints;
            ``None`` (default) saves them unless they are rebuilt at
            construction (``clip_pretrained`` given, no ``init_cfg``).
        frozen_dtype: precision of the frozen CLIP weights: ``None`` or
            ``'fp32'``, ``'bf16'``, ``'fp16'``, or ``'auto'`` (bf16 once the
            model runs on CUDA, fp32 elsewhere). Holding the weights in low
            precision is faster than autocast, which re-casts every weight
            at every call. The learnable prompts, the head and the losses
            stay fp32; features leave the backbone as fp32. A trainable
            image tower stays fp32.
        image_tower_trainable: train the image tower (all its weights,
            BatchNorm statistics updated in training mode); its features
            then cannot be cached. Defaults to False (frozen).
        init_cfg: mmengine initialisation config of the module.
    """

    def __init__(self,
                 classnames: Union[str, Sequence[str]],
                 clip_model_name: Optional[str] = None,
                 clip_pretrained: Optional[str] = None,
                 clip_model_cfg: Optional[dict] = None,
                 prompt_learner: Optional[dict] = dict(n_ctx=16),
                 templates: Sequence[str] = ('a photo of a {}.', ),
                 truncate_text: bool = True,
                 text_chunk_size: Optional[int] = None,
                 save_frozen: Optional[bool] = None,
                 frozen_dtype: Optional[str] = None,
                 image_tower_trainable: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self._text_memo: Optional[_TextMemo] = None
        self.register_load_state_dict_post_hook(_forget_text_features)
        if frozen_dtype not in FROZEN_DTYPES:  # before the costly build
            raise ValueError(f'frozen_dtype must be one of '
                             f'{sorted(FROZEN_DTYPES, key=str)}, got '
                             f'{frozen_dtype!r}')
        if text_chunk_size is not None and (
                not isinstance(text_chunk_size, int) or text_chunk_size < 0):
            raise ValueError('text_chunk_size must be None (auto), 0 (off) '
                             f'or a positive int, got {text_chunk_size!r}')
        self.text_chunk_size = text_chunk_size
        self.classnames = resolve_class_names(classnames)
        self.clip, self.tokenizer = build_clip_and_tokenizer(
            clip_model_name, clip_pretrained, clip_model_cfg)
        self.clip.requires_grad_(False)
        self.image_tower_trainable = image_tower_trainable
        self.clip.visual.requires_grad_(image_tower_trainable)
        self.truncate_text = truncate_text
        self.prompt_learner = None
        if prompt_learner is not None:
            self.prompt_learner = MODELS.build(
                dict(dict(type='PromptLearner'), **prompt_learner),
                default_args=dict(clip=self.clip, tokenizer=self.tokenizer,
                                  classnames=self.classnames))
        else:
            self.register_buffer(
                'template_text_feats',
                self._template_features(templates),
                persistent=False)
        self.frozen_dtype = frozen_dtype
        self._set_frozen_dtype(FROZEN_DTYPES[frozen_dtype])
        self._caption_cache: Dict[str, torch.Tensor] = {}
        self.caption_cache_hits = 0
        self.caption_cache_misses = 0
        if save_frozen is None:
            save_frozen = image_tower_trainable or not \
                rebuilt_at_construction(clip_pretrained, init_cfg)
        if image_tower_trainable and not save_frozen:
            raise ValueError('a trainable image tower is saved in '
                             'checkpoints: save_frozen must not be False')
        if not save_frozen:
            exclude_from_checkpoints(self, 'clip')

    # ------------------------------------------------------------------
    def _set_frozen_dtype(self, dtype: Optional[torch.dtype]) -> None:
        if dtype is not None:
            self.clip.to(dtype)
            self.clip.logit_scale.data = self.clip.logit_scale.data.float()
            if self.image_tower_trainable:
                self.clip.visual.float()

    def _apply(self, fn, *args, **kwargs) -> 'CLIPPromptBackbone':
        self.forget_text_features()  # new dtype or device
        module = super()._apply(fn, *args, **kwargs)
        if self.frozen_dtype == 'auto':
            on_cuda = self.clip.logit_scale.device.type == 'cuda'
            self._set_frozen_dtype(torch.bfloat16 if on_cuda else torch.float)
        return module

    @property
    def _image_dtype(self) -> torch.dtype:
        return self.clip.visual.conv1.weight.dtype if hasattr(
            self.clip.visual, 'conv1') else torch.float

    def train(self, mode: bool = True) -> 'CLIPPromptBackbone':
        """Set the mode; the frozen towers stay in eval mode."""
        super().train(mode)
        self.clip.eval()  # frozen encoders never update BN statistics
        if self.image_tower_trainable:
            self.clip.visual.train(mode)
        self.forget_text_features()
        return self

    @property
    def logit_scale(self) -> torch.Tensor:
        """CLIP's temperature ``exp(logit_scale)`` (frozen)."""
        return self.clip.logit_scale.detach().exp()

    @property
    def image_encoder(self) -> nn.Module:
        """The image tower (frozen unless ``image_tower_trainable``)."""
        return self.clip.visual

    @property
    def feature_dim(self) -> int:
        """Width of the image (and text) features."""
        return int(self.clip.visual.output_dim)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Image features [B, E] (fp32) of images [B, 3, H, W], with
        gradients only when the image tower is trainable."""
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and self.image_tower_trainable):
            return self.clip.encode_image(
                images.to(self._image_dtype)).float()

    def encode_token_embeds(self, embeds: torch.Tensor,
                            tokens: torch.Tensor) -> torch.Tensor:
        """Text features [N, E] of token embeddings of ``tokens``."""
        return encode_text_embeddings(self.clip, embeds,
                                      eot_positions(tokens),
                                      self.truncate_text).float()

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Frozen text features [N, E] of plain texts (in chunks of
        :meth:`text_chunk` texts)."""
        device = self.clip.logit_scale.device
        tokens = self.tokenizer(list(texts)).to(device)
        chunk = self.text_chunk(len(tokens),
                                self._positions(eot_positions(tokens),
                                                tokens.shape[1]))
        chunk = chunk or len(tokens)
        return torch.cat([
            self.encode_token_embeds(self.clip.token_embedding(part), part)
            for part in tokens.split(chunk)
        ]).float()

    def text_chunk(self, num_texts: int, positions: int) -> int:
        """Texts per chunk of the text tower for ``num_texts`` texts of
        ``positions`` tokens (as run); 0 when they are encoded at once (see
        ``text_chunk_size``)."""
        chunk = self.text_chunk_size
        if chunk is None:
            tower = self.clip.transformer
            chunk = auto_chunk_size(
                tower.layers, tower.width, positions,
                self.clip.positional_embedding.element_size())
        return chunk if 0 < chunk < num_texts else 0

    def _positions(self, eot: torch.Tensor, length: int) -> int:
        """Token positions the text tower runs for these end-of-text
        positions of sequences of ``length`` tokens."""
        return int(eot.max()) + 1 if self.truncate_text else length

    def class_text_chunk(self) -> int:
        """Classes per chunk of :meth:`class_text_features` (0: all at
        once)."""
        learner = self.prompt_learner
        return self.text_chunk(
            learner.num_classes,
            self._positions(learner.eot, learner.tokens.shape[1]))

    def _template_features(self, templates: Sequence[str]) -> torch.Tensor:
        feats = [
            F.normalize(
                self.encode_texts([t.format(c) for c in self.classnames]),
                dim=-1) for t in templates
        ]
        return F.normalize(torch.stack(feats).mean(0), dim=-1)

    def class_text_features(self) -> Tuple[torch.Tensor,
                                           Optional[torch.Tensor]]:
        """Class text features [C, E] and prompt embeddings [C, L, W].

        In eval mode without autograd (validation, testing) the result is
        memoised: the prompts are constant across test batches, so they are
        encoded once per evaluation instead of once per batch. The memo is
        used while the learnable prompt tensors hold the values they had
        when it was made (compared with ``torch.equal``: an optimizer step
        changes them) and ``truncate_text`` is unchanged; it is dropped by
        ``load_state_dict``, by moving or casting the module (``to``,
        ``cuda``, ...) and by ``train()``/``eval()``. Exact: the same
        tensors as a fresh encoding.
        """
        if self.prompt_learner is None:
            return self.template_text_feats, None
        memoise = not self.training and not torch.is_grad_enabled()
        if memoise and self._text_memo is not None and \
                self._text_memo.valid_for(self):
            return self._text_memo.feats, self._text_memo.prompts
        chunk = self.class_text_chunk()
        if chunk:
            feats, prompts = self.prompt_learner.encode_chunked(
                self.clip, self.truncate_text, chunk), None
        else:
            feats, prompts = self.prompt_learner.encode(self.clip,
                                                        self.truncate_text)
        self._text_memo = _TextMemo.of(self, feats, prompts) \
            if memoise else None
        return feats, prompts

    def forget_text_features(self) -> None:
        """Drop the memoised eval-mode class text features."""
        self._text_memo = None

    def learnable_tensors(self) -> List[torch.Tensor]:
        """The parameters that training updates and the class text
        features depend on (the prompts; not a trainable image tower)."""
        return [
            p for name, p in self.named_parameters()
            if p.requires_grad and not name.startswith('clip.visual.')
        ]

    def forward(self, inputs: Union[torch.Tensor, Dict[str, torch.Tensor]]
                ) -> CLIPPromptFeatures:
        """Image features, class text features, logit scale and prompt
        embeddings of a batch of images [B, 3, H, W] or of cached image
        features ``dict(image_feats=[B, E])``."""
        if isinstance(inputs, dict):
            image_feats = inputs[IMAGE_FEATS].float()
        else:
            image_feats = self.encode_image(inputs)
        text_feats, prompts = self.class_text_features()
        return CLIPPromptFeatures(
            image_feats=image_feats, text_feats=text_feats,
            logit_scale=self.logit_scale, prompt_embeds=prompts)

    # ------------------------------------------------------------------
    def encode_captions(self, captions: Sequence[str]) -> torch.Tensor:
        """Frozen text-encoder features [B, E] of captions, cached.

        Each distinct caption is encoded once per run (the encoder is
        frozen), then served from a CPU cache. It is encoded alone (a batch
        of one): batched matrix products may round differently with other
        batch sizes, and a caption's feature must not depend on which
        captions it first met in a batch, which differs between a run and
        the same run resumed from a checkpoint (the cache is not saved).
        """
        missing = [c for c in dict.fromkeys(captions)
                   if c not in self._caption_cache]
        self.caption_cache_misses += len(missing)
        self.caption_cache_hits += len(captions) - len(missing)
        if missing:
            feats = torch.cat([self.encode_texts([c]) for c in missing])
            feats = feats.cpu()
            self._caption_cache.update(zip(missing, feats))
        device = self.clip.logit_scale.device
        return torch.stack([self._caption_cache[c] for c in captions]).to(
            device)

    @torch.no_grad()
    def caption_token_embeds(
            self, captions: Sequence[str]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings [B, L, W] of captions and their valid positions
        (SOS to EOT) as a mask [B, L] (LMPT's released-code CSE space)."""
        device = self.clip.logit_scale.device
        tokens = self.tokenizer(list(captions)).to(device)
        positions = torch.arange(tokens.shape[1], device=device)
        mask = positions[None] <= eot_positions(tokens)[:, None]
        return self.clip.token_embedding(tokens).float(), mask

    def class_fields(self) -> List[ClassField]:
        """``classnames`` (its prompt learner is built from them)."""
        return [ClassField('classnames', len(self.classnames))]


class _TextMemo(NamedTuple):
    """Eval-mode class text features and what they were computed from."""

    feats: torch.Tensor
    prompts: torch.Tensor
    truncate_text: bool
    learnable: Tuple[torch.Tensor, ...]  # copies of the learnable values

    @classmethod
    def of(cls, backbone: CLIPPromptBackbone, feats: torch.Tensor,
           prompts: torch.Tensor) -> '_TextMemo':
        """The memo of ``feats`` and ``prompts`` of ``backbone`` now."""
        return cls(feats, prompts, backbone.truncate_text,
                   tuple(t.detach().clone()
                         for t in backbone.learnable_tensors()))

    def valid_for(self, backbone: CLIPPromptBackbone) -> bool:
        """Whether ``backbone`` would compute the same features now."""
        learnable = backbone.learnable_tensors()
        return (self.truncate_text == backbone.truncate_text
                and len(learnable) == len(self.learnable) and all(
                    torch.equal(old, new)
                    for old, new in zip(self.learnable, learnable)))


def _forget_text_features(backbone: CLIPPromptBackbone,
                          incompatible_keys) -> None:
    """``load_state_dict`` post-hook: new weights, new text features."""
    backbone.forget_text_features()
