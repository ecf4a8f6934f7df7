# Copyright (c) mmltml contributors. All rights reserved.
"""CLIP text embeddings of class-name prompts."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from mmltml.datasets.categories import get_class_names
from ..utils.clip_loader import (build_clip_and_tokenizer, check_quick_gelu,
                                 named_model_cfg)
from ..utils.clip_text import (check_text_tower, cut_words_to_fit,
                               encode_text_embeddings, eot_positions)
from .base_text_embeds import BaseTextEmbeds

ClassNames = Union[str, Sequence[str]]


@MODELS.register_module()
class CLIPClassTextEmbeds(BaseTextEmbeds):
    """The open_clip text embeddings of ``template.format(classname)``.

    :math:`T_i` is ``encode_text(prompt_i, normalize=False)`` in fp32: the
    end-of-text token after the final LayerNorm, times the text projection,
    not L2-normalised (``_`` in a class name becomes a space).

    - Frozen (default, CPRFL's paper): the embeddings are computed once; the
      CLIP model is built for that call only (a ``deferred`` source:
      :class:`~mmltml.models.text_embeds.ClassTextEmbeds` calls it in
      ``init_weights``, so a head filled from a checkpoint never builds
      CLIP). The global RNG is left as it was.
    - ``trainable=True`` (CPRFL's official code, LM-CLIP): the text tower
      is the submodule ``clip`` (image tower dropped, logit scale frozen),
      built at construction with random weights; :meth:`load_pretrained`
      loads ``clip_pretrained`` into it, and every call recomputes the
      embeddings with gradients. :meth:`encode_texts` runs other texts
      (e.g. per-image captions) through the same tower. With
      ``train_logit_scale=True`` (LM-CLIP) the CLIP's own temperature
      parameter :attr:`logit_scale` (log scale, loaded with the tower's
      weights) trains too, for the head to use.

    Args:
        num_classes (int): Number of classes C (set by the head).
        classnames (str | Sequence[str]): Class names, or a spec for
            :func:`mmltml.datasets.categories.get_class_names`
            (``'coco-lt'``, ``'voc-lt'`` or a label-file path).
        template (str): Prompt template. Defaults to ``'a photo of a {}.'``.
        clip_model_name (str, optional): open_clip model name. Defaults to
            ``'RN50-quickgelu'``.
        clip_pretrained (str, optional): Its pretrained tag or a local
            weights file; None keeps random weights. Defaults to
            ``'openai'``.
        clip_model_cfg (dict | str, optional): An open_clip ``CLIP`` config
            dict (or a built-in name such as ``'tinyclip-synthetic'``);
            replaces ``clip_model_name``, and ``clip_pretrained`` must then
            be a local file or None.
        trainable (bool): Keep the text tower and train it. Defaults to
            False.
        train_logit_scale (bool): With ``trainable``, train the CLIP's
            ``logit_scale`` too (else it is kept frozen). Defaults to False.
        truncate_text (bool): With ``trainable``, run the text tower only
            up to the longest end-of-text position of each batch of texts
            instead of the whole context (77 tokens for OpenAI CLIP; "a
            photo of a {class}" ends by about position 10): the same
            features and gradients (under the causal mask no earlier token
            sees a later one, and the positions after it feed nothing), up
            to float rounding, several times faster. Defaults to False.
    """

    def __init__(self,
                 num_classes: int,
                 classnames: ClassNames,
                 template: str = 'a photo of a {}.',
                 clip_model_name: Optional[str] = 'RN50-quickgelu',
                 clip_pretrained: Optional[str] = 'openai',
                 clip_model_cfg: Union[dict, str, None] = None,
                 trainable: bool = False,
                 train_logit_scale: bool = False,
                 truncate_text: bool = False) -> None:
        clip_source = dict(
            model_name=None if clip_model_cfg else clip_model_name,
            pretrained=clip_pretrained,
            model_cfg=clip_model_cfg)
        check_quick_gelu(**clip_source)  # refuse now, not at init
        super().__init__(num_classes, _clip_width(clip_source))
        self.clip_source = clip_source
        self.prompts = [
            template.format(name.replace('_', ' '))
            for name in _class_names(classnames, num_classes)
        ]
        if train_logit_scale and not trainable:
            raise ValueError('train_logit_scale=True needs trainable=True '
                             '(a frozen source keeps no CLIP model)')
        self.trainable = trainable
        self.train_logit_scale = train_logit_scale
        self.truncate_text = truncate_text
        self.deferred = not trainable or clip_pretrained is not None
        if trainable:
            clip_model, tokenizer = build_clip_and_tokenizer(
                **dict(self.clip_source, pretrained=None))
            self._keep_text_tower(clip_model, tokenizer)

    def _keep_text_tower(self, clip_model: nn.Module, tokenizer) -> None:
        """Keep the text tower as ``clip`` (every remaining trainable
        parameter is used by the forward pass, or by the head for
        ``logit_scale``) and the prompt tokens."""
        clip_model.visual = None
        frozen = ('logit_bias', ) if self.train_logit_scale else (
            'logit_scale', 'logit_bias')
        for name in frozen:
            param = getattr(clip_model, name, None)
            if isinstance(param, nn.Parameter):
                param.requires_grad_(False)
        if self.truncate_text:
            check_text_tower(clip_model)
        self.clip = clip_model
        self.tokenizer = tokenizer
        self.register_buffer('tokens', tokenizer(self.prompts),
                             persistent=False)

    def forward(self) -> torch.Tensor:
        """The prompt embeddings, shape ``[C, m]``."""
        if self.trainable:
            return self._encode(self.tokens)
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            clip_model, tokenizer = build_clip_and_tokenizer(
                **self.clip_source)
            return clip_model.eval().encode_text(
                tokenizer(self.prompts), normalize=False).float()

    @property
    def logit_scale(self) -> nn.Parameter:
        r"""The CLIP's temperature parameter :math:`\log s` (trainable with
        ``train_logit_scale=True``); needs ``trainable=True``."""
        if not self.trainable:
            raise RuntimeError('logit_scale needs trainable=True: a frozen '
                               'CLIPClassTextEmbeds keeps no CLIP model')
        return self.clip.logit_scale

    def encode_texts(self, texts: Sequence[str],
                     cut_words: bool = False) -> torch.Tensor:
        """Features ``[N, m]`` (fp32, not normalised) of any texts through
        the trainable text tower, with gradients.

        Args:
            texts (Sequence[str]): The texts.
            cut_words (bool): Cut an over-long text at a word boundary to
                fit the context (:func:`~mmltml.models.utils.clip_text.
                cut_words_to_fit`, LM-CLIP's captions) instead of
                open_clip's cut of the tokens. Defaults to False.
        """
        if not self.trainable:
            raise RuntimeError('encode_texts needs trainable=True: a frozen '
                               'CLIPClassTextEmbeds keeps no text tower')
        texts = list(texts)
        if cut_words:
            texts = [cut_words_to_fit(t, self.tokenizer) for t in texts]
        return self._encode(self.tokenizer(texts).to(self.tokens.device))

    def _encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Features ``[N, m]`` (fp32) of tokenised texts, through the
        trainable tower (up to the longest end-of-text position with
        ``truncate_text``)."""
        if not self.truncate_text:
            return self.clip.encode_text(tokens, normalize=False).float()
        return encode_text_embeddings(self.clip,
                                      self.clip.token_embedding(tokens),
                                      eot_positions(tokens)).float()

    @torch.no_grad()
    def load_pretrained(self) -> None:
        """Load ``clip_pretrained`` into the trainable text tower (the
        global RNG is left as it was)."""
        with torch.random.fork_rng(devices=[]):
            clip_model, _ = build_clip_and_tokenizer(**self.clip_source)
        state = {
            k: v
            for k, v in clip_model.state_dict().items()
            if not k.startswith('visual.')
        }
        self.clip.load_state_dict(state)


def _class_names(classnames: ClassNames, num_classes: int) -> List[str]:
    """Resolve ``classnames`` and check their number."""
    if classnames is None:
        raise ValueError('CLIPClassTextEmbeds needs classnames (a list or '
                         "'coco-lt', 'voc-lt', a label file).")
    if isinstance(classnames, str):
        classnames = get_class_names(classnames)
    classnames = list(classnames)
    if len(classnames) != num_classes:
        raise ValueError(f'CLIPClassTextEmbeds: {len(classnames)} class '
                         f'names for num_classes={num_classes}')
    return classnames


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
