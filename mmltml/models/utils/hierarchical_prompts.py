# Copyright (c) mmltml contributors. All rights reserved.
"""HP-DVAL's hierarchical prompts: global and local CoOp contexts and the
hand-crafted prompt, on one CLIP text tower."""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from mmltml.datasets.categories import get_class_names
from mmltml.structures.class_dependent import ClassDependent, ClassField
from .clip_loader import build_clip_and_tokenizer
from .clip_text import check_text_tower, encode_text_embeddings, eot_positions
from .frozen_state import exclude_from_checkpoints, rebuilt_at_construction

#: HP-DVAL's context: M = 4 class-shared tokens initialised from "a photo
#: of a" (the released code; the paper draws them from N(0, 0.02^2)).
DEFAULT_PROMPT = dict(n_ctx=4, ctx_init='a photo of a', class_specific=False)


class HierarchicalTextFeatures(NamedTuple):
    """Class text features of the three prompts, ``[C, E]`` each (fp32,
    not normalised).

    Attributes:
        global_feats: ``T^G``, the global prompt's (P^G; the [CLS] view).
        local_feats: ``T^L``, the local prompt's (P^L; the patch view).
        hand_feats: ``T^H``, the hand-crafted prompt's (P^H,
            ``template.format(name)``).
    """

    global_feats: torch.Tensor
    local_feats: torch.Tensor
    hand_feats: torch.Tensor


@MODELS.register_module()
class HierarchicalPrompts(nn.Module, ClassDependent):
    """The class texts of HP-DVAL (IEEE TIP 2025, Sec. III-C): a
    hand-crafted prompt P^H and two learnable prompts, P^G for the global
    view and P^L for the local view, encoded by one CLIP text tower.

    P^G and P^L are two instances of the shared
    :class:`~mmltml.models.utils.PromptLearner` (CoOp context tokens in
    front of the class name; HP-DVAL: M = 4 class-shared tokens,
    initialised from "a photo of a", which reproduces P^H exactly, or from
    N(0, 0.02^2) as the paper states). In the released code ``ctx`` is the
    local prompt and ``ctx_double`` the global one (ref-hpdval §1.3).

    ``forward()`` returns :class:`HierarchicalTextFeatures` ``(T^G, T^L,
    T^H)``:

    - ``learned=False`` (stage 1, Eq. 4-5): both views use the hand-crafted
      prompt, ``T^G = T^L = T^H``; the contexts are frozen and unused;
    - ``learned=True`` (stage 2, Eq. 9): ``T^G`` and ``T^L`` come from the
      learnable contexts, ``T^H`` anchors them (the semantic-consistency
      loss of the head).

    The text tower is frozen by default (the paper). Frozen, ``T^H`` is a
    (non-persistent) buffer computed at construction and again after each
    ``load_state_dict`` (the tower may come from a checkpoint), and in eval
    mode without autograd the learned features are memoised while the
    contexts keep their values (exact: test batches share them).
    ``trainable_text=True`` (HP-DVAL's released stage 1, which fine-tunes
    the text tower: ref-hpdval §3.2) re-encodes every prompt at every call,
    with gradients. The image tower is dropped; CLIP's temperature (and
    the released code's ``temperature``, ``spatial_T``, ``ranking_scale``,
    which its normalisation cancels) are not parameters here.

    Checkpoints hold the contexts, and the tower unless it is frozen and
    rebuilt at construction (``clip_pretrained`` given; ``save_frozen``
    overrides, e.g. for a tower that stage 1 trained).

    Args:
        classnames: Class names, a preset (``'coco-lt'``, ``'voc-lt'``) or
            a label file.
        clip_model_name: open_clip model name, e.g.
            ``'ViT-B-16-quickgelu'``.
        clip_pretrained: Pretrained tag or local weights file.
        clip_model_cfg: open_clip ``CLIP`` config (or a built-in name)
            instead of ``clip_model_name``.
        global_prompt: :class:`PromptLearner` arguments of P^G.
        local_prompt: :class:`PromptLearner` arguments of P^L.
        template: The hand-crafted prompt P^H, ``{}`` for the class name.
        learned: Use the learnable prompts (stage 2) or P^H for both views
            (stage 1).
        trainable_text: Train the text tower.
        truncate_text: Run the tower only up to the last end-of-text
            position (exact under the causal mask).
        save_frozen: Keep a frozen tower in checkpoints; ``None``
            (default): only when it is not rebuilt at construction.
    """

    def __init__(self,
                 classnames: Union[str, Sequence[str]],
                 clip_model_name: Optional[str] = None,
                 clip_pretrained: Optional[str] = None,
                 clip_model_cfg: Union[dict, str, None] = None,
                 global_prompt: dict = DEFAULT_PROMPT,
                 local_prompt: dict = DEFAULT_PROMPT,
                 template: str = 'a photo of a {}.',
                 learned: bool = True,
                 trainable_text: bool = False,
                 truncate_text: bool = True,
                 save_frozen: Optional[bool] = None) -> None:
        super().__init__()
        self.classnames = [n.replace('_', ' ')
                           for n in get_class_names(classnames)]
        self.learned = learned
        self.trainable_text = trainable_text
        self.truncate_text = truncate_text
        self._memo: Optional[Tuple[Tuple[torch.Tensor, ...],
                                   Tuple[torch.Tensor, torch.Tensor]]] = None
        clip, tokenizer = build_clip_and_tokenizer(
            clip_model_name, clip_pretrained, clip_model_cfg)
        check_text_tower(clip)
        clip.visual = None
        self.clip = clip
        default_args = dict(clip=clip, tokenizer=tokenizer,
                            classnames=self.classnames)
        self.global_prompts = MODELS.build(
            dict(type='PromptLearner', **global_prompt),
            default_args=default_args)
        self.local_prompts = MODELS.build(
            dict(type='PromptLearner', **local_prompt),
            default_args=default_args)
        self.register_buffer(
            'hand_tokens',
            tokenizer([template.format(n) for n in self.classnames]),
            persistent=False)
        self._set_trainable()
        if not trainable_text:
            self.register_buffer('hand_feats', self._encode_hand(),
                                 persistent=False)
            self.register_load_state_dict_post_hook(_reencode_hand)
            if save_frozen is None:
                save_frozen = not rebuilt_at_construction(clip_pretrained,
                                                          None)
            if not save_frozen:
                exclude_from_checkpoints(self, 'clip')

    def _set_trainable(self) -> None:
        self.clip.requires_grad_(self.trainable_text)
        for name in ('logit_scale', 'logit_bias'):
            param = getattr(self.clip, name, None)
            if isinstance(param, nn.Parameter):
                param.requires_grad_(False)  # the text side never uses it
        for learner in (self.global_prompts, self.local_prompts):
            learner.requires_grad_(self.learned)
        if not self.trainable_text:
            self.clip.eval()

    def train(self, mode: bool = True) -> 'HierarchicalPrompts':
        """Set the mode; a frozen tower stays in eval mode."""
        super().train(mode)
        if not self.trainable_text:
            self.clip.eval()
        self._memo = None
        return self

    def _apply(self, fn, *args, **kwargs) -> 'HierarchicalPrompts':
        self._memo = None  # new device or dtype
        return super()._apply(fn, *args, **kwargs)

    def _encode_hand(self) -> torch.Tensor:
        """``T^H`` ``[C, E]`` (fp32) through the current tower."""
        tokens = self.hand_tokens
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and self.trainable_text):
            feats = encode_text_embeddings(self.clip,
                                           self.clip.token_embedding(tokens),
                                           eot_positions(tokens),
                                           self.truncate_text)
        return feats.float()

    def _encode_learned(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(T^G, T^L)``, memoised in eval mode without autograd while
        the tower is frozen and the contexts keep their values."""
        memoise = (not self.training and not torch.is_grad_enabled()
                   and not self.trainable_text)
        contexts = (self.global_prompts.ctx, self.local_prompts.ctx)
        if memoise and self._memo is not None and all(
                torch.equal(old, new)
                for old, new in zip(self._memo[0], contexts)):
            return self._memo[1]
        feats = tuple(
            learner.encode(self.clip, self.truncate_text).text_feats
            for learner in (self.global_prompts, self.local_prompts))
        self._memo = ((tuple(c.detach().clone() for c in contexts), feats)
                      if memoise else None)
        return feats

    def forward(self) -> HierarchicalTextFeatures:
        """``(T^G, T^L, T^H)``, each ``[C, E]`` (fp32)."""
        hand = (self._encode_hand()
                if self.trainable_text else self.hand_feats.float())
        if not self.learned:
            return HierarchicalTextFeatures(hand, hand, hand)
        return HierarchicalTextFeatures(*self._encode_learned(), hand)

    def class_fields(self) -> List[ClassField]:
        """``classnames`` (the prompts are built from them)."""
        return [ClassField('classnames', len(self.classnames))]

    def extra_repr(self) -> str:
        return (f'num_classes={len(self.classnames)}, learned='
                f'{self.learned}, trainable_text={self.trainable_text}')


@torch.no_grad()
def _reencode_hand(module: HierarchicalPrompts, incompatible_keys) -> None:
    """Load post-hook: a frozen tower may have new weights; ``T^H`` and the
    memo follow them."""
    module._memo = None
    module.hand_feats.copy_(module._encode_hand())
