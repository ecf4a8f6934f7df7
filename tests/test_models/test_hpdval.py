# Copyright (c) mmltml contributors. All rights reserved.
"""HP-DVAL's parts against independent expectations: the dual view against
open_clip's own outputs, the scores against ref-hpdval §1.4 written out,
the hand-crafted prompt against open_clip's ``encode_text``, the
distillation loss with a separate teacher, what stage 2 trains, and the
exact cache of frozen dual-view tokens."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.models.utils import DualViewFeatures, HierarchicalTextFeatures
from mmltml.models.utils.clip_loader import (build_open_clip,
                                             build_tokenizer)

TEXT_CFG = dict(context_length=16, vocab_size=49408, width=32, heads=2,
                layers=1)
TINY_VIT = dict(
    embed_dim=16,
    vision_cfg=dict(layers=2, width=32, head_width=16, patch_size=8,
                    image_size=32),
    text_cfg=TEXT_CFG)
TINY_RESNET = dict(
    embed_dim=16,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=64),
    text_cfg=TEXT_CFG)
CLASSES = ['red circle', 'blue star', 'dog']
TEMPLATE = 'a photo of a {}.'


def backbone(model_cfg, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('out_type', 'dual_view')
    return MODELS.build(dict(type='CLIPVisionBackbone',
                             clip_model_cfg=model_cfg, **kwargs))


def reference_clip(model_cfg):
    """The open_clip model with the weights :func:`backbone` gets."""
    torch.manual_seed(0)
    return build_open_clip(model_cfg=model_cfg)


def prompts(model_cfg=TINY_VIT, **kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='HierarchicalPrompts', classnames=CLASSES,
                             clip_model_cfg=model_cfg, **kwargs))


# ---------------------------------------------------------------------------
# the dual view
# ---------------------------------------------------------------------------
def test_vit_dual_view_is_ln_post_on_all_tokens_times_proj():
    """e_cls is CLIP's image embedding; e_j are open_clip's
    ``output_tokens=True`` tokens (after ln_post, before proj) @ proj."""
    model = backbone(TINY_VIT)
    ref = reference_clip(TINY_VIT).visual
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        feats = model(x)
        pooled = ref(x)
        ref.output_tokens = True
        _, tokens = ref(x)
    assert isinstance(feats, DualViewFeatures)
    assert feats.patch_embeds.shape == (2, 16, 16)
    torch.testing.assert_close(feats.cls_embed, pooled)
    torch.testing.assert_close(feats.patch_embeds, tokens @ ref.proj)
    assert model.feature_dim == (17, 16)


def test_resnet_dual_view_is_attention_pool_and_its_value_path():
    """ResNet towers: e_cls = encode_image, e_j = c_proj(v_proj(x_j +
    pos_j)) at every layer4 position (MaskCLIP), written out here."""
    model = backbone(TINY_RESNET)
    clip = reference_clip(TINY_RESNET)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        feats = model(x)
        visual = clip.visual
        fmap = visual.layer4(visual.layer3(visual.layer2(visual.layer1(
            visual.stem(x)))))
        pool = visual.attnpool
        positions = fmap.flatten(2).permute(0, 2, 1)  # [B, HW, C]
        values = ((positions + pool.positional_embedding[1:])
                  @ pool.v_proj.weight.t() + pool.v_proj.bias)
        expected = values @ pool.c_proj.weight.t() + pool.c_proj.bias
        torch.testing.assert_close(feats.cls_embed, clip.encode_image(x))
    torch.testing.assert_close(feats.patch_embeds, expected)
    assert model.feature_dim == (5, 16)


def test_dual_view_backbone_trains_or_stays_frozen():
    x = torch.rand(2, 3, 32, 32)
    trainable = backbone(TINY_VIT, frozen=False)
    feats = trainable(x)
    (feats.cls_embed.sum() + feats.patch_embeds.sum()).backward()
    assert all(p.grad is not None for p in trainable.parameters())
    frozen = backbone(TINY_VIT)
    frozen.train()
    assert not frozen.visual.training
    assert not frozen(x).cls_embed.requires_grad


def test_dual_view_needs_the_last_block_through_ln_post():
    with pytest.raises(ValueError, match='dual_view'):
        backbone(TINY_VIT, out_indices=(0, ))
    with pytest.raises(ValueError, match='out_type'):
        backbone(TINY_VIT, out_type='tokens')


def test_timm_student_embeds_cls_and_patch_tokens():
    """The paper's student: timm ViT tokens after the final norm through
    Linear-Tanh-Linear, the same layers for the class and patch tokens."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='TimmDualViewBackbone', model_name='vit_tiny_patch16_224',
        embed_dims=(24, 16)))
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        feats = model(x)
        tokens = model.vit.forward_features(x)
    first, tanh, second = model.embed
    assert isinstance(tanh, torch.nn.Tanh)
    expected = second(torch.tanh(first(tokens)))
    torch.testing.assert_close(feats.cls_embed, expected[:, 0])
    torch.testing.assert_close(feats.patch_embeds, expected[:, 1:])
    assert model.feature_dim == (197, 16)
    assert isinstance(model.vit, timm.models.VisionTransformer)


# ---------------------------------------------------------------------------
# the scores
# ---------------------------------------------------------------------------
def official_scores(cls_embed, patches, text_g, text_l, k, alpha):
    """ref-hpdval §1.4, one number at a time: per image and class, the
    mean of the k largest raw patch-text dot products, then each view
    divided by its L2 norm over the classes, then alpha * local + (1 -
    alpha) * global (the code's alpha weights the local view)."""
    batch, classes = cls_embed.shape[0], text_g.shape[0]
    local = torch.zeros(batch, classes, dtype=torch.float64)
    global_ = torch.zeros(batch, classes, dtype=torch.float64)
    for b in range(batch):
        for i in range(classes):
            dots = sorted((float(patches[b, j] @ text_l[i])
                           for j in range(patches.shape[1])), reverse=True)
            local[b, i] = sum(dots[:k]) / k
            global_[b, i] = float(cls_embed[b] @ text_g[i])
    local = local / local.pow(2).sum(1, keepdim=True).sqrt()
    global_ = global_ / global_.pow(2).sum(1, keepdim=True).sqrt()
    return alpha * local + (1 - alpha) * global_


def _random_inputs(seed=0, batch=3, patches=7, classes=5, dim=6):
    gen = torch.Generator().manual_seed(seed)
    feats = DualViewFeatures(torch.randn(batch, dim, generator=gen),
                             torch.randn(batch, patches, dim, generator=gen))
    text = HierarchicalTextFeatures(
        *(torch.randn(classes, dim, generator=gen) for _ in range(3)))
    return feats, text


def head(**kwargs):
    kwargs.setdefault('text', dict(type='HierarchicalPrompts',
                                   classnames=CLASSES,
                                   clip_model_cfg=TINY_VIT))
    return MODELS.build(dict(type='DualViewAlignHead', **kwargs))


def test_scores_are_the_released_codes():
    feats, text = _random_inputs()
    model = head(patch_topk=3, local_weight=0.3)
    expected = official_scores(*feats, text.global_feats, text.local_feats,
                               k=3, alpha=0.3)
    torch.testing.assert_close(model.scores(feats, text).double(), expected)
    # the scale of the features does not matter (the norms over classes)
    scaled = HierarchicalTextFeatures(*(5 * t for t in text))
    torch.testing.assert_close(model.scores(feats, scaled),
                               model.scores(feats, text))


def test_cosine_scores_are_the_papers():
    feats, text = _random_inputs(1)
    model = head(patch_topk=2, local_weight=0.6, score_norm='cosine')
    cos_local = torch.einsum(
        'bpe,ce->bpc', F.normalize(feats.patch_embeds, dim=-1),
        F.normalize(text.local_feats, dim=-1))
    local = cos_local.sort(dim=1, descending=True).values[:, :2].mean(1)
    global_ = F.cosine_similarity(feats.cls_embed[:, None],
                                  text.global_feats[None], dim=-1)
    torch.testing.assert_close(model.scores(feats, text),
                               0.6 * local + 0.4 * global_)


def test_patch_topk_cannot_exceed_the_patches():
    feats, text = _random_inputs(patches=4)
    with pytest.raises(ValueError, match='patch_topk=5'):
        head(patch_topk=5).scores(feats, text)


# ---------------------------------------------------------------------------
# the hierarchical prompts
# ---------------------------------------------------------------------------
def test_context_init_reproduces_the_hand_crafted_prompt():
    """Contexts from "a photo of a" give T^G = T^L = T^H, CLIP's own
    encode_text of "a photo of a {name}."; a Gaussian context does not."""
    text = prompts(learned=True)
    clip = reference_clip(TINY_VIT)
    tokens = build_tokenizer(model_cfg=TINY_VIT)(
        [TEMPLATE.format(c) for c in CLASSES])
    with torch.no_grad():
        expected = clip.encode_text(tokens)
        feats = text()
    torch.testing.assert_close(feats.hand_feats, expected)
    torch.testing.assert_close(feats.global_feats, expected)
    torch.testing.assert_close(feats.local_feats, expected)
    gaussian = prompts(global_prompt=dict(n_ctx=4, ctx_init=None,
                                          class_specific=False))
    with torch.no_grad():
        assert not torch.allclose(gaussian().global_feats, expected,
                                  atol=1e-3)
        torch.testing.assert_close(gaussian().local_feats, expected)


def test_prompts_hold_no_released_scalars_and_freeze_the_tower():
    text = prompts()
    trainable = {n for n, p in text.named_parameters() if p.requires_grad}
    assert trainable == {'global_prompts.ctx', 'local_prompts.ctx'}
    assert text.global_prompts.ctx.shape == (4, 32)  # M = 4, class-shared
    stage1 = prompts(learned=False)
    assert not any(p.requires_grad for p in stage1.parameters())
    both_hand = stage1()
    assert both_hand.global_feats is both_hand.hand_feats
    released = prompts(learned=False, trainable_text=True)
    trainable = {n for n, p in released.named_parameters() if p.requires_grad}
    assert 'clip.token_embedding.weight' in trainable
    assert not any(n.endswith('ctx') or 'logit' in n for n in trainable)


def test_hand_prompt_follows_a_loaded_tower():
    """A frozen tower loaded from a checkpoint (stage 2 from stage 1)
    re-encodes T^H; the eval-mode memo of T^G / T^L is dropped too."""
    text = prompts(save_frozen=True).eval()
    other = prompts(save_frozen=True)
    with torch.no_grad():
        for p in other.clip.parameters():
            p.add_(0.1 * torch.randn_like(p))
        before = text().global_feats.clone()
        text.load_state_dict(other.state_dict())
        tokens = build_tokenizer(model_cfg=TINY_VIT)(
            [TEMPLATE.format(c) for c in CLASSES])
        torch.testing.assert_close(text.hand_feats,
                                   other.clip.encode_text(tokens))
        assert not torch.allclose(text().global_feats, before)
        torch.testing.assert_close(text().global_feats,
                                   other().global_feats)


# ---------------------------------------------------------------------------
# the losses and the stages
# ---------------------------------------------------------------------------
def classifier(stage, teacher_cfg=TINY_VIT, **head_kwargs):
    """An HP-DVAL model on the tiny ViT CLIP: stage 1 fine-tunes the
    student with L_cls + L_kd, stage 2 trains the prompts with L_cls +
    L_sc."""
    torch.manual_seed(0)
    stage1 = stage == 1
    head_cfg = dict(
        type='DualViewAlignHead', patch_topk=4,
        kd_weight=1.0 if stage1 else 0., sc_weight=0. if stage1 else 1.,
        text=dict(type='HierarchicalPrompts', classnames=CLASSES,
                  clip_model_cfg=TINY_VIT, learned=not stage1),
        loss=dict(type='DBLoss', reweight_func=None,
                  focal=dict(focal=False, gamma=2, balance_param=2.0)))
    head_cfg.update(head_kwargs)
    return MODELS.build(dict(
        type='CLIPPromptClassifier',
        data_preprocessor=dict(num_classes=3, mean=[0, 0, 0],
                               std=[255, 255, 255], to_onehot=True),
        head_inputs=dict(teacher=dict(type='FrozenCLIPTeacherInput',
                                      clip_model_cfg=teacher_cfg))
        if stage1 else None,
        backbone=dict(type='CLIPVisionBackbone', clip_model_cfg=TINY_VIT,
                      out_type='dual_view', frozen=not stage1),
        head=head_cfg))


def _batch(model, training=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = list((torch.rand(4, 3, 32, 32, generator=gen) * 255).round())
    samples = [DataSample().set_gt_label([i % 3]) for i in range(4)]
    return model.data_preprocessor(
        dict(inputs=images, data_samples=samples), training)


def test_distillation_from_a_separate_teacher_is_non_zero_with_gradient():
    model = classifier(1)
    teacher = model.head_inputs['teacher'].teacher
    student = model.backbone
    assert not {id(p) for p in teacher.parameters()} & {
        id(p) for p in student.parameters()}
    losses = model(**_batch(model), mode='loss')
    # teacher and student are different random towers here
    assert losses['loss_kd'] > 1e-3
    losses['loss_kd'].backward()
    assert student.visual.conv1.weight.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in teacher.parameters())
    # the value is mean |e_cls - t_cls|
    batch = _batch(model)
    with torch.no_grad():
        expected = (student.visual(batch['inputs'])
                    - teacher.visual(batch['inputs'])).abs().mean()
    torch.testing.assert_close(losses['loss_kd'].detach(), expected,
                               rtol=1e-5, atol=1e-6)


def test_distillation_from_a_teacher_equal_to_the_student_is_zero():
    """A CLIP-initialised student starts where its teacher is (and the
    released code's shared modules keep it there: L_kd = 0 forever).

    Zero up to float rounding: the frozen teacher runs under no_grad in
    eval mode, where torch's attention takes its fused inference kernel,
    and the trainable student the training path (about 1e-7 apart).
    """
    model = classifier(1)
    teacher = model.head_inputs['teacher'].teacher
    teacher.load_state_dict(model.backbone.state_dict())
    losses = model(**_batch(model), mode='loss')
    assert losses['loss_kd'] < 1e-6
    with torch.no_grad():  # the same code path: exactly zero
        model.eval()
        batch = _batch(model)
        assert torch.equal(model.backbone(batch['inputs']).cls_embed,
                           teacher(batch['inputs']).cls_embed)
        model.train()
    # one optimiser step on the student and the distance is no longer 0
    optimizer = torch.optim.SGD(model.backbone.parameters(), lr=0.1)
    sum(losses.values()).backward()
    optimizer.step()
    assert model(**_batch(model), mode='loss')['loss_kd'] > 1e-4


def test_distillation_needs_its_provider():
    with pytest.raises(ValueError, match="head input 'teacher'"):
        MODELS.build(dict(
            type='CLIPPromptClassifier',
            backbone=dict(type='CLIPVisionBackbone', clip_model_cfg=TINY_VIT,
                          out_type='dual_view'),
            head=dict(type='DualViewAlignHead', kd_weight=1.0, patch_topk=4,
                      text=dict(type='HierarchicalPrompts',
                                classnames=CLASSES,
                                clip_model_cfg=TINY_VIT))))


def test_stage2_trains_only_the_prompts():
    model = classifier(2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'head.text.global_prompts.ctx',
                         'head.text.local_prompts.ctx'}
    losses = model(**_batch(model), mode='loss')
    assert set(losses) == {'loss_cls', 'loss_sc'}
    # both contexts start at "a photo of a" = P^H: L_sc starts at 0
    assert losses['loss_sc'] == 0
    sum(losses.values()).backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == trainable


@pytest.mark.parametrize('target,anchored', [
    ('local', {'local_prompts'}), ('global', {'global_prompts'}),
    ('both', {'local_prompts', 'global_prompts'})])
def test_semantic_consistency_anchors_the_chosen_prompt(target, anchored):
    model = classifier(2, sc_target=target)
    text = model.head.text
    with torch.no_grad():
        for learner in (text.global_prompts, text.local_prompts):
            learner.ctx.add_(0.05 * torch.randn_like(learner.ctx))
    loss = model(**_batch(model), mode='loss')['loss_sc']
    feats = text()
    expected = sum(
        (getattr(feats, name.split('_')[0] + '_feats')
         - feats.hand_feats).abs().mean() for name in anchored)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    with_grad = {name for name in ('global_prompts', 'local_prompts')
                 if getattr(text, name).ctx.grad is not None}
    assert with_grad == anchored


def test_frozen_dual_view_tokens_are_cached_exactly():
    """Stage 2's frozen student: the classifier offers its dual view for
    caching, and cached tokens predict as the images do."""
    model = classifier(2).eval()
    encoder = model.frozen_image_encoder(training=False)
    assert encoder.feature_dim == (17, 16)
    gen = torch.Generator().manual_seed(0)
    images = list((torch.rand(4, 3, 32, 32, generator=gen) * 255).round())
    samples = [DataSample().set_gt_label([i % 3]) for i in range(4)]
    batch = dict(inputs=images, data_samples=samples)
    tokens = encoder.encode(batch)
    assert tokens.shape == (4, 17, 16)
    with torch.no_grad():
        from_images = model.test_step(copy.deepcopy(batch))
        from_cache = model.test_step(dict(
            inputs=dict(image_feats=tokens),
            data_samples=copy.deepcopy(samples)))
    for a, b in zip(from_images, from_cache):
        torch.testing.assert_close(a.pred_logits, b.pred_logits)
    assert classifier(1).frozen_image_encoder(training=True) is None
