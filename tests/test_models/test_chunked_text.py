# Copyright (c) mmltml contributors. All rights reserved.
"""The chunked text encoder (gradient cache) against plain autograd: the
same class-text features, logits and gradients of the prompt context (and of
an unfrozen tower), in fp32 and under CPU autocast, for chunk sizes that do
and do not divide the class count."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.models.utils.chunked_text import auto_chunk_size, chunked_encode
from mmltml.structures.head_inputs import CaptionTokens

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2,
                  layers=2))
WORDS = ['red', 'blue', 'green', 'traffic', 'teddy', 'small', 'striped']
SHAPES = ['circle', 'square light', 'bear', 'star', 'cat']


def class_names(num):
    """``num`` distinct names of one to three words (end-of-text positions
    differ between chunks, so each chunk truncates to its own length)."""
    names = [f'{w} {s}' for s in SHAPES for w in WORDS] + SHAPES
    return sorted(names, key=lambda n: n[::-1])[:num]


def backbone(num, chunk, class_specific=True, **kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='CLIPPromptBackbone', classnames=class_names(num),
        clip_model_cfg=TINY, text_chunk_size=chunk,
        prompt_learner=dict(n_ctx=3, class_specific=class_specific,
                            init_std=0.5), **kwargs)).train()


def loss_of(model, image_feats, target):
    """BCE on cosine logits, as the head computes them (fp32)."""
    text_feats, _ = model.class_text_features()
    logits = 20 * F.normalize(image_feats, dim=-1) @ F.normalize(
        text_feats.float(), dim=-1).t()
    loss = F.binary_cross_entropy_with_logits(logits.float(), target)
    return loss, logits


def grads_and_logits(model, autocast=False):
    gen = torch.Generator().manual_seed(1)
    num = model.prompt_learner.num_classes
    image_feats = torch.randn(4, 32, generator=gen)
    target = (torch.rand(4, num, generator=gen) < 0.3).float()
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        loss, logits = loss_of(model, image_feats, target)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return loss.detach(), logits.detach(), grads


def plain_and_chunked(model, chunk, autocast=False):
    """Losses, logits and gradients of ``model`` unchunked and chunked."""
    model.text_chunk_size = 0
    plain = grads_and_logits(model, autocast)
    model.text_chunk_size = chunk
    assert model.class_text_chunk() == chunk
    return plain, grads_and_logits(model, autocast)


@pytest.mark.parametrize('num,chunk,class_specific', [
    (7, 2, True), (12, 4, True), (13, 5, True), (5, 4, True),
    (13, 1, False), (7, 3, False)])
def test_fp32_gradients_equal_plain_autograd(num, chunk, class_specific):
    (loss, logits, grads), (c_loss, c_logits, c_grads) = plain_and_chunked(
        backbone(num, 0, class_specific), chunk)
    assert set(grads) == set(c_grads) == {'prompt_learner.ctx'}
    torch.testing.assert_close(c_logits, logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c_loss, loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(c_grads['prompt_learner.ctx'],
                               grads['prompt_learner.ctx'],
                               atol=1e-6, rtol=1e-4)
    assert grads['prompt_learner.ctx'].abs().max() > 1e-4  # not vacuous


@pytest.mark.parametrize('truncate_text', [True, False])
def test_autocast_gradients_equal_plain_autograd(truncate_text):
    """CPU autocast (bf16): the recomputation runs under the forward's
    autocast state. Without truncation both paths run the same shapes;
    with it each chunk stops at its own end-of-text (bf16 rounding of other
    shapes), hence the looser bound there."""
    model = backbone(13, 0, truncate_text=truncate_text)
    (_, logits, grads), (_, c_logits, c_grads) = plain_and_chunked(
        model, 5, autocast=True)
    model.text_chunk_size = 0
    _, _, fp32_grads = grads_and_logits(model)
    tol = dict(atol=1e-6, rtol=1e-6) if not truncate_text else dict(
        atol=0.1, rtol=0.05)
    torch.testing.assert_close(c_logits, logits, **tol)
    grad, c_grad = grads['prompt_learner.ctx'], c_grads['prompt_learner.ctx']
    # bf16 differs from fp32, and the chunked run follows bf16
    bf16_gap = (grad - fp32_grads['prompt_learner.ctx']).norm()
    assert bf16_gap > 1e-4 * grad.norm()
    if truncate_text:
        assert (c_grad - grad).norm() < 0.1 * grad.norm()
    else:
        torch.testing.assert_close(c_grad, grad, atol=1e-6, rtol=1e-6)


def test_recomputation_sees_the_forward_autocast_state():
    seen = []

    def encode(x):
        seen.append((torch.is_grad_enabled(),
                     torch.is_autocast_enabled('cpu')))
        return (x @ torch.ones(3, 2)).float()

    x = torch.randn(5, 3, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = chunked_encode(encode, [x], 2)
    # the first chunk keeps its graph, the others run without
    assert seen == [(True, True), (False, True), (False, True)]
    out.sum().backward()  # the other two are recomputed
    assert seen[3:] == [(True, True)] * 2
    seen.clear()
    chunked_encode(encode, [x], 2).sum().backward()
    assert seen == [(True, False)] + [(False, False)] * 2 + [
        (True, False)] * 2
    seen.clear()
    with torch.no_grad():
        assert not chunked_encode(encode, [x], 2).requires_grad
    assert seen == [(False, False)] * 3


def test_unfrozen_tower_weights_get_their_gradients():
    model = backbone(9, 0)
    model.clip.transformer.resblocks[0].mlp.requires_grad_(True)
    model.clip.text_projection.requires_grad_(True)
    (_, _, grads), (_, _, c_grads) = plain_and_chunked(model, 4)
    assert 'clip.text_projection' in grads
    assert set(c_grads) == set(grads) and len(grads) == 6  # ctx, 4 mlp, proj
    for name, grad in grads.items():
        torch.testing.assert_close(c_grads[name], grad, atol=1e-6,
                                   rtol=1e-4, msg=name)


def test_random_state_of_the_forward_is_replayed():
    """Dropout in ``encode``: the recomputation draws the forward's masks,
    so the gradient is the one of plain autograd over the same chunks; the
    caller's random state is not disturbed by the backward pass."""
    weight = torch.randn(4, 3)
    x = torch.randn(7, 4, requires_grad=True)

    def encode(rows):
        return F.dropout(rows @ weight, p=0.5, training=True)

    torch.manual_seed(3)
    expected = torch.cat([encode(x[i:i + 3]) for i in range(0, 7, 3)])
    (grad, ) = torch.autograd.grad(expected.square().sum(), [x])
    torch.manual_seed(3)
    out = chunked_encode(encode, [x], 3)
    after_forward = torch.get_rng_state()
    out.square().sum().backward()
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(x.grad, grad)
    assert torch.equal(torch.get_rng_state(), after_forward)


def test_a_tensor_needing_grad_outside_rows_and_params_is_refused():
    weight = torch.randn(4, 3, requires_grad=True)
    x = torch.randn(5, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=r'shape \(4, 3\).*params'):
        chunked_encode(lambda rows: rows @ weight, [x], 2)
    out = chunked_encode(lambda rows: rows @ weight, [x], 2, params=[weight])
    out.sum().backward()
    torch.testing.assert_close(weight.grad, x.detach().sum(0)[:, None].expand(
        4, 3))


def test_optim_wrapper_with_gradient_accumulation_matches_plain():
    """Two accumulated steps through mmengine's OptimWrapper and the
    classifier's train_step: the same updated context."""
    updated = []
    for chunk in (0, 3):
        torch.manual_seed(0)
        model = MODELS.build(dict(
            type='CLIPPromptClassifier',
            backbone=dict(type='CLIPPromptBackbone', classnames=class_names(8),
                          clip_model_cfg=TINY, text_chunk_size=chunk,
                          prompt_learner=dict(n_ctx=2)),
            head=dict(type='CLIPPromptHead',
                      loss=dict(type='CrossEntropyLoss', use_sigmoid=True))))
        model.backbone.prompt_learner.ctx.data.normal_(0, 0.5)
        model.train()
        wrapper = OptimWrapper(
            torch.optim.SGD(model.backbone.learnable_tensors(), lr=1.0,
                            momentum=0.9), accumulative_counts=2)
        gen = torch.Generator().manual_seed(2)
        for _ in range(4):
            batch = dict(inputs=[torch.rand(3, 32, 32, generator=gen) * 255
                                 for _ in range(2)],
                         data_samples=[DataSample().set_gt_label([0, 5]),
                                       DataSample().set_gt_label(7)])
            model.train_step(batch, wrapper)
        updated.append(model.backbone.prompt_learner.ctx.detach().clone())
    torch.testing.assert_close(updated[1], updated[0], atol=1e-5, rtol=1e-4)


def test_auto_chunking_and_the_override():
    """``None``: chunks whose saved activations are estimated at 2 GiB
    (21 fp32 values per layer, position and channel): ViT-B/16's text
    tower (12 x 512) at 22 positions takes 189 prompts per chunk, so
    COCO-LT's 80 classes run in one piece."""
    vitb16 = 12 * 22 * 512 * 21 * 4
    assert auto_chunk_size(12, 512, 22) == 2**31 // vitb16 == 189
    assert auto_chunk_size(12, 512, 22, element_size=2) == 2**31 // (
        vitb16 // 2)
    model = backbone(5, None)  # 2 layers of width 32
    per_class = 2 * 9 * 32 * 21 * 4
    assert model.text_chunk(10**5, 9) == 2**31 // per_class
    assert model.text_chunk(2**31 // per_class, 9) == 0  # fits at once
    assert model.class_text_chunk() == 0
    model.text_chunk_size = 0
    assert model.text_chunk(10**5, 9) == 0
    model.text_chunk_size = 7
    assert model.text_chunk(7, 9) == 0  # one chunk: the plain path
    assert model.text_chunk(8, 9) == 7
    for bad in (-1, 2.5, '64'):
        with pytest.raises(ValueError, match='text_chunk_size'):
            MODELS.build(dict(type='CLIPPromptBackbone', classnames=['a'],
                              clip_model_cfg=TINY, text_chunk_size=bad))


def test_chunked_prompts_are_not_kept_and_eval_features_memoised():
    model = backbone(7, 3)
    feats, prompts = model.class_text_features()
    assert prompts is None and feats.requires_grad
    model.eval()
    with torch.no_grad():
        first, _ = model.class_text_features()
        again, _ = model.class_text_features()
        plain, _ = backbone(7, 0).eval().class_text_features()
    assert again is first and not first.requires_grad
    torch.testing.assert_close(first, plain, atol=1e-5, rtol=1e-5)


def test_token_space_cse_asks_for_unchunked_prompts():
    head = MODELS.build(dict(
        type='CLIPPromptHead',
        cse_loss=dict(type='CSELoss', soft_margin=False, reweight=False)))
    model = backbone(7, 3)
    feats = model(dict(image_feats=torch.randn(2, 32)))
    captions = CaptionTokens(
        *model.caption_token_embeds(['a red circle', 'a cat']))
    with pytest.raises(ValueError, match='text_chunk_size=0'):
        head.loss(feats, [DataSample().set_gt_label(0),
                          DataSample().set_gt_label(1)], captions=captions)
