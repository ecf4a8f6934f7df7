# Copyright (c) mmltml contributors. All rights reserved.
"""CLIP prompt backbone / head / classifier against open_clip itself."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.models.head_inputs import CaptionTokensInput, batch_captions
from mmltml.models.utils.clip_features import CLIPPromptFeatures
from mmltml.structures.head_inputs import (CaptionFeatures, HeadInputRequest,
                                           RequestsHeadInputs,
                                           check_head_inputs)

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2,
                  layers=2))
NAMES = ['red circle', 'blue square', 'cat', 'traffic light', 'teddy bear']


def backbone(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='CLIPPromptBackbone', classnames=NAMES,
               clip_model_cfg=TINY)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def reference_text_features(clip, prompts, tokens):
    """open_clip's text path written out in full (all positions)."""
    x = prompts + clip.positional_embedding
    x = clip.ln_final(clip.transformer(x, attn_mask=clip.attn_mask))
    x = x[torch.arange(len(tokens)), tokens.argmax(-1)]
    return x @ clip.text_projection


def test_text_init_equals_open_clip_encode_text():
    model = backbone(prompt_learner=dict(ctx_init='a photo of a'))
    learner = model.prompt_learner
    assert learner.n_ctx == 4
    tokens = model.tokenizer([f'a photo of a {n}.' for n in NAMES])
    expected = model.clip.encode_text(tokens)
    text_feats, _ = model.class_text_features()
    torch.testing.assert_close(text_feats, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('class_specific', [True, False])
def test_logits_equal_direct_open_clip(class_specific):
    model = backbone(prompt_learner=dict(n_ctx=3,
                                         class_specific=class_specific))
    head = MODELS.build(dict(type='CLIPPromptHead'))
    images = torch.randn(4, 3, 32, 32)
    logits = head(model(images))

    clip, learner = model.clip, model.prompt_learner
    assert learner.ctx.shape == ((5, 3, 32) if class_specific else (3, 32))
    prompts = learner(clip.token_embedding)
    text = reference_text_features(clip, prompts, learner.tokens)
    image = clip.encode_image(images)
    expected = clip.logit_scale.exp() * F.normalize(image, dim=-1) @ \
        F.normalize(text, dim=-1).t()
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    # the prompt is "[SOS] ctx ctx ctx <name> . [EOT]"
    ids = learner.tokens[0]
    assert model.tokenizer(['X X X red circle.'])[0].tolist() == ids.tolist()


def test_backbone_output_is_a_named_tuple_of_the_encoders():
    """Fields by name equal open_clip's own encoders; still a tuple."""
    model = backbone(prompt_learner=dict(n_ctx=2)).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = model(images)
        clip, learner = model.clip, model.prompt_learner
        prompts = learner(clip.token_embedding)
        text = reference_text_features(clip, prompts, learner.tokens)
        image = clip.encode_image(images)
    assert isinstance(feats, tuple) and len(feats) == 4
    torch.testing.assert_close(feats.image_feats, image)
    torch.testing.assert_close(feats.text_feats, text, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats.logit_scale, clip.logit_scale.exp())
    torch.testing.assert_close(feats.prompt_embeds, prompts)
    assert backbone(prompt_learner=None)(images).prompt_embeds is None


def test_only_context_receives_gradients():
    model = MODELS.build(dict(
        type='CLIPPromptClassifier',
        backbone=dict(type='CLIPPromptBackbone', classnames=NAMES,
                      clip_model_cfg=TINY, prompt_learner=dict(n_ctx=2)),
        head=dict(type='CLIPPromptHead',
                  loss=dict(type='CrossEntropyLoss', use_sigmoid=True))))
    model.train()
    samples = [DataSample().set_gt_label([0, 2]), DataSample().set_gt_label(4)]
    losses = model.loss(torch.randn(2, 3, 32, 32), samples)
    losses['loss'].backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {'backbone.prompt_learner.ctx'}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == with_grad


def test_frozen_resnet_tower_keeps_bn_statistics():
    model = backbone()
    model.train()
    assert not model.clip.training and model.prompt_learner.training
    stats = copy.deepcopy(
        {k: v for k, v in model.clip.state_dict().items() if 'running' in k})
    assert stats
    model(torch.randn(3, 3, 32, 32))
    for key, value in model.clip.state_dict().items():
        if key in stats:
            torch.testing.assert_close(value, stats[key])


def test_template_ensemble_is_mean_of_normalised_features():
    templates = ['a photo of a {}.', 'a drawing of a {}.']
    model = backbone(prompt_learner=None, templates=templates)
    feats = []
    for template in templates:
        tokens = model.tokenizer([template.format(n) for n in NAMES])
        feats.append(F.normalize(model.clip.encode_text(tokens), dim=-1))
    expected = F.normalize((feats[0] + feats[1]) / 2, dim=-1)
    text_feats, prompts = model.class_text_features()
    assert prompts is None
    torch.testing.assert_close(text_feats, expected, atol=1e-5, rtol=1e-5)


def _positions_run(model, run):
    """Sequence lengths the text transformer actually ran during ``run``
    (a forward pre-hook on it)."""
    transformer = model.clip.transformer
    axis = 1 if getattr(transformer, 'batch_first', True) else 0
    lengths = []
    handle = transformer.register_forward_pre_hook(
        lambda module, args: lengths.append(args[0].shape[axis]))
    try:
        result = run()
    finally:
        handle.remove()
    return lengths, result


def _last_eot(model, texts):
    """1 + the last end-of-text position of ``texts``, found by the
    tokenizer's end-of-text id (not by the argmax rule the code uses)."""
    tokens = model.tokenizer(texts)
    rows, cols = (tokens == model.tokenizer.eot_token_id).nonzero(
        as_tuple=True)
    assert sorted(rows.tolist()) == list(range(len(texts)))
    return int(cols.max()) + 1


def test_truncation_is_exact_and_shorter():
    """The text tower runs only up to the last end-of-text position (prompts
    "X X X X <name>." and captions alike), with the features of the full
    77-, here 24-position run."""
    model = backbone(prompt_learner=dict(n_ctx=4))
    full = backbone(prompt_learner=dict(n_ctx=4), truncate_text=False)
    full.prompt_learner.load_state_dict(model.prompt_learner.state_dict())
    expected = _last_eot(model, [f'X X X X {n}.' for n in NAMES])
    # [SOS] X X X X traffic light . [EOT] (the longest names: 2 tokens)
    assert expected == 9 < 24
    ran, short = _positions_run(model, model.class_text_features)
    ran_full, long = _positions_run(full, full.class_text_features)
    assert ran == [expected] and ran_full == [24]
    torch.testing.assert_close(short[0], long[0], atol=1e-5, rtol=1e-5)

    captions = ['a cat.', 'a red circle next to a blue square and a cat.']
    ran, short = _positions_run(model, lambda: model.encode_captions(captions))
    ran_full, long = _positions_run(full,
                                    lambda: full.encode_captions(captions))
    # each distinct caption runs alone (features independent of batching)
    assert ran == [_last_eot(model, [c]) for c in captions]
    assert ran_full == [24] * len(captions)
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-5)


def test_random_clip_is_saved_whole():
    """No pretrained weights: the random CLIP is saved, and a model built
    from another seed becomes the same model when it loads the state."""
    model = backbone(prompt_learner=dict(n_ctx=2))
    state = model.state_dict()
    assert {f'clip.{k}' for k in model.clip.state_dict()} <= set(state)
    torch.manual_seed(1)
    other = MODELS.build(dict(type='CLIPPromptBackbone', classnames=NAMES,
                              clip_model_cfg=TINY,
                              prompt_learner=dict(n_ctx=2)))
    images = torch.randn(2, 3, 32, 32)
    assert not torch.equal(other.encode_image(images),
                           model.encode_image(images))
    other.load_state_dict(state, strict=True)
    torch.testing.assert_close(other.encode_image(images),
                               model.encode_image(images))
    torch.testing.assert_close(other.class_text_features()[0],
                               model.class_text_features()[0])


def test_checkpoint_holds_only_prompts_and_reloads(tmp_path):
    weights = str(tmp_path / 'clip.pth')
    torch.save(backbone().clip.state_dict(), weights)
    model = backbone(prompt_learner=dict(n_ctx=2), clip_pretrained=weights)
    state = model.state_dict()
    assert list(state) == ['prompt_learner.ctx']
    other = backbone(prompt_learner=dict(n_ctx=2), clip_pretrained=weights)
    other.prompt_learner.ctx.data.normal_()
    result = other.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    images = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model(images)[1], other(images)[1])


def test_prompts_follow_loaded_clip_weights():
    model = backbone(prompt_learner=dict(ctx_init='a photo of a'))
    other = backbone(prompt_learner=dict(ctx_init='a photo of a'))
    with torch.no_grad():  # new CLIP weights, e.g. from a checkpoint
        other.clip.token_embedding.weight.normal_()
    model.load_state_dict(other.state_dict())
    learner = model.prompt_learner
    prompts = learner(model.clip.token_embedding)
    expected = other.clip.token_embedding(learner.tokens)
    n_ctx = learner.n_ctx
    torch.testing.assert_close(prompts[:, 1 + n_ctx:],
                               expected[:, 1 + n_ctx:])
    torch.testing.assert_close(prompts[:, :1], expected[:, :1])


def test_caption_cache_hit_after_first_pass():
    model = backbone()
    captions = ['a red circle', 'a cat', 'a red circle']
    first = model.encode_captions(captions)
    assert (model.caption_cache_misses, model.caption_cache_hits) == (2, 1)
    second = model.encode_captions(captions)
    assert (model.caption_cache_misses, model.caption_cache_hits) == (2, 4)
    torch.testing.assert_close(first, second)
    tokens = model.tokenizer(captions)
    torch.testing.assert_close(first, model.clip.encode_text(tokens),
                               atol=1e-5, rtol=1e-5)


def test_token_space_caption_mask():
    model = backbone()
    embeds, mask = model.caption_token_embeds(['a cat', 'a red circle'])
    assert embeds.shape[:2] == mask.shape == (2, 24)
    # SOS + words + EOT
    assert mask.sum(1).tolist() == [4, 5]


def test_openai_resnet_needs_quickgelu():
    with pytest.raises(ValueError, match='RN50-quickgelu'):
        backbone(clip_model_cfg=None, clip_model_name='RN50',
                 clip_pretrained='openai')


def test_bf16_frozen_weights_keep_prompts_and_outputs_fp32():
    ref = backbone(prompt_learner=dict(n_ctx=2))
    low = backbone(prompt_learner=dict(n_ctx=2), frozen_dtype='bf16')
    assert low.clip.transformer.get_cast_dtype() == torch.bfloat16
    assert low.prompt_learner.ctx.dtype == torch.float
    images = torch.randn(2, 3, 32, 32)
    head = MODELS.build(dict(type='CLIPPromptHead'))
    logits_ref, logits_low = head(ref(images)), head(low(images))
    assert logits_low.dtype == torch.float
    # the same random weights rounded to bf16: close, not equal
    cos = F.cosine_similarity(logits_low.flatten(), logits_ref.flatten(),
                              dim=0)
    assert cos > 0.99
    logits_low.sum().backward()
    assert low.prompt_learner.ctx.grad.dtype == torch.float
    assert torch.isfinite(low.prompt_learner.ctx.grad).all()


def test_auto_frozen_dtype_is_fp32_on_cpu():
    model = backbone(frozen_dtype='auto')
    model.to('cpu')
    assert model.clip.transformer.get_cast_dtype() == torch.float
    with pytest.raises(ValueError, match='frozen_dtype'):
        backbone(frozen_dtype='int8')


def test_head_logits_are_fp32_under_autocast():
    """Cosine logits equal the fp64 formula to fp32 precision under bf16
    autocast (a bf16 product would be off by ~0.1 at logit scale 100)."""
    head = MODELS.build(dict(type='CLIPPromptHead',
                             loss=dict(type='AsymmetricLoss')))
    gen = torch.Generator().manual_seed(0)
    image, text = torch.randn(6, 32, generator=gen), torch.randn(5, 32,
                                                                 generator=gen)
    scale = torch.tensor(100.0)
    expected = 100.0 * (F.normalize(image.double(), dim=-1) @ F.normalize(
        text.double(), dim=-1).t())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head(CLIPPromptFeatures(image, text, scale, None))
    assert logits.dtype == torch.float32
    assert torch.allclose(logits.double(), expected, atol=1e-4)


@pytest.mark.parametrize('extra_words', [0, 1])
def test_prompt_cut_by_the_context_length_is_refused(extra_words):
    """SOS + 4 context tokens + name + '.' + EOT must fit in 24 positions:
    a 17-word name fills them exactly, one more word is cut (open_clip
    would silently drop it)."""
    name = ' '.join(['cat'] * (17 + extra_words))
    build = lambda: backbone(classnames=['dog', name],  # noqa: E731
                             prompt_learner=dict(n_ctx=4))
    if not extra_words:
        learner = build().prompt_learner
        assert learner.eot.tolist()[1] == 23  # the last position
        return
    with pytest.raises(ValueError, match='context length 24.*cat cat'):
        build()


@pytest.mark.parametrize('space', ['encoder', 'token'])
def test_lmpt_loss_is_the_weighted_sum_of_its_terms(space):
    """LMPT Eq. 11: L = lambda L_cls + (1 - lambda) L_cse, with L_cls on the
    cosine logits and L_cse against the captions encoded by open_clip
    itself ('encoder') or their token embeddings against the prompts
    shifted by ``token_shift`` ('token', the released code)."""
    lam, shift = 0.7, 2
    torch.manual_seed(0)
    provider = dict(encoder='CaptionFeaturesInput',
                    token='CaptionTokensInput')[space]
    model = MODELS.build(dict(
        type='CLIPPromptClassifier',
        head_inputs=dict(captions=dict(type=provider)),
        backbone=dict(type='CLIPPromptBackbone', classnames=NAMES,
                      clip_model_cfg=TINY, prompt_learner=dict(n_ctx=4)),
        head=dict(type='CLIPPromptHead', lambda_cls=lam,
                  token_shift=shift,
                  loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
                  cse_loss=dict(type='CSELoss', class_freq=[9, 5, 3, 2, 1]))))
    images = torch.randn(3, 3, 32, 32)
    labels, captions = [[0, 2], [1], [3, 4]], [
        'a red circle on grass', 'a blue square', 'a cat near a teddy bear']
    samples = [DataSample().set_gt_label(lb) for lb in labels]
    for sample, caption in zip(samples, captions):
        sample.set_field(caption, 'caption', field_type='metainfo')
    losses = model.loss(images, samples)

    clip, learner = model.backbone.clip, model.backbone.prompt_learner
    target = torch.zeros(3, 5)
    for row, lb in enumerate(labels):
        target[row, lb] = 1
    prompts = learner(clip.token_embedding)
    text = reference_text_features(clip, prompts, learner.tokens)
    logits = clip.logit_scale.exp() * F.normalize(
        clip.encode_image(images), dim=-1) @ F.normalize(text, dim=-1).t()
    bce = F.binary_cross_entropy_with_logits(logits, target,
                                             reduction='sum') / 3
    torch.testing.assert_close(losses['loss_cls'], lam * bce, atol=1e-5,
                               rtol=1e-5)
    cse = model.head.cse_module
    tokens = model.backbone.tokenizer(captions)
    if space == 'encoder':
        expected, stats = cse(text, clip.encode_text(tokens), target,
                              return_stats=True)
    else:  # caption position p against prompt position p + shift
        length = tokens.shape[1] - shift
        mask = torch.arange(length)[None] <= tokens.argmax(-1)[:, None]
        expected, stats = cse(prompts[:, shift:], clip.token_embedding(
            tokens)[:, :length], target, caption_mask=mask,
            return_stats=True)
    torch.testing.assert_close(losses['loss_cse'], (1 - lam) * expected,
                               atol=1e-5, rtol=1e-5)
    # the logged fraction is the one the loss returned, not module state
    torch.testing.assert_close(losses['cse_active_neg'], stats['active_neg'])


def test_released_code_token_cse_sums_every_position_of_a_75_char_caption():
    """The released code's token-space CSE: the caption line cut at 75
    characters, Delta = sum over all positions p (padding included) of
    1 - cos(caption token p, prompt token p + m), written out pair by
    pair."""
    shift, lam = 2, 0.5
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='CLIPPromptClassifier',
        head_inputs=dict(
            captions=dict(type='CaptionTokensInput', max_chars=75)),
        backbone=dict(type='CLIPPromptBackbone', classnames=NAMES,
                      clip_model_cfg=TINY, prompt_learner=dict(n_ctx=4)),
        head=dict(type='CLIPPromptHead', lambda_cls=lam,
                  token_shift=shift, token_caption_mask=False,
                  loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
                  cse_loss=dict(type='CSELoss', class_freq=[9, 5, 3, 2, 1],
                                position_reduction='sum'))))
    line = ('A red circle  on grass next to a blue square. A cat near a '
            'teddy bear sits on the grass. Three shapes.')
    cut = 'A red circle on grass next to a blue square. A cat near a teddy ' \
          'bear sits o'  # 75 characters, whitespace collapsed
    assert len(cut) == 75
    labels = [[0, 2], [1]]
    samples = [DataSample().set_gt_label(lb) for lb in labels]
    for sample, caption in zip(samples, [line, 'a blue square']):
        sample.set_field(caption, 'caption', field_type='metainfo')
    losses = model.loss(torch.randn(2, 3, 32, 32), samples)

    clip, learner = model.backbone.clip, model.backbone.prompt_learner
    prompts = learner(clip.token_embedding).detach()
    captions = clip.token_embedding(model.backbone.tokenizer(
        [cut, 'a blue square']))
    length = prompts.shape[1] - shift
    delta = torch.zeros(2, len(NAMES))
    for k in range(2):
        for i in range(len(NAMES)):
            delta[k, i] = sum(
                1 - F.cosine_similarity(captions[k, p], prompts[i, p + shift],
                                        dim=0) for p in range(length))
    target = torch.zeros(2, len(NAMES))
    for row, lb in enumerate(labels):
        target[row, lb] = 1
    cse = model.head.cse_module
    margin = cse.class_margin(torch.float, 'cpu')
    weight = cse.class_weight(torch.float, 'cpu')
    expected = (target * weight * delta + (1 - target) * weight *
                (margin - delta).clamp(min=0)).sum(1).mean()
    torch.testing.assert_close(losses['loss_cse'], (1 - lam) * expected,
                               atol=1e-4, rtol=1e-4)


def test_whole_caption_line_by_default():
    line = 'x' * 100
    sample = DataSample()
    sample.set_field(line, 'caption', field_type='metainfo')
    assert batch_captions([sample]) == [line]
    assert batch_captions([sample], max_chars=3) == ['xxx']
    for provider in ('CaptionFeaturesInput', 'CaptionTokensInput'):
        with pytest.raises(ValueError, match='positive'):
            MODELS.build(dict(type=provider, max_chars=0))


def _lmpt(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(
        dict(type='CLIPPromptClassifier',
             backbone=dict(type='CLIPPromptBackbone', classnames=NAMES,
                           clip_model_cfg=TINY,
                           prompt_learner=dict(n_ctx=4)),
             head=dict(type='CLIPPromptHead',
                       cse_loss=dict(type='CSELoss',
                                     class_freq=[9, 5, 3, 2, 1]))),
        **kwargs))


class _RequestsSamples(RequestsHeadInputs):
    """A head that requests ``captions`` of a type no provider gives."""

    def head_input_requests(self):
        return (HeadInputRequest('captions', (DataSample, )), )


def test_head_inputs_are_checked_against_the_heads_requests():
    """The head declares what its loss takes; a config that does not give
    it, gives another type or feeds a head that takes nothing is refused
    when the model is built, naming the key to set."""
    with pytest.raises(ValueError,
                       match=r"CLIPPromptHead needs the head input "
                       r"'captions' \(CaptionFeatures or CaptionTokens\): "
                       r'add head_inputs=dict\(captions='):
        _lmpt()
    with pytest.raises(ValueError, match='head_inputs.captions gives '
                       'CaptionFeatures, _RequestsSamples takes DataSample'):
        check_head_inputs(_RequestsSamples(), dict(captions=CaptionFeatures))
    with pytest.raises(ValueError, match=r"head_inputs \['captions'\] are "
                       'not requested by CLIPPromptHead'):
        _lmpt(head=dict(type='CLIPPromptHead'),
              head_inputs=dict(captions=dict(type='CaptionFeaturesInput')))
    stock = MODELS.build(dict(type='MultiLabelLinearClsHead', num_classes=2,
                              in_channels=4))
    with pytest.raises(ValueError, match='not requested by MultiLabel'):
        check_head_inputs(stock, dict(captions=CaptionFeatures))
    check_head_inputs(stock, {})
    model = _lmpt(head_inputs=dict(captions=dict(type='CaptionTokensInput')))
    assert isinstance(model.head_inputs.captions, CaptionTokensInput)
    assert not any(k.startswith('head_inputs') for k in model.state_dict())


def test_missing_caption_is_named():
    model = _lmpt(
        head_inputs=dict(captions=dict(type='CaptionFeaturesInput')))
    samples = [DataSample().set_gt_label([0]) for _ in range(2)]
    samples[0].set_field('a cat', 'caption', field_type='metainfo')
    with pytest.raises(ValueError, match='1 of 2 training images have no '
                       "caption: add 'caption' to PackInputs"):
        model.loss(torch.randn(2, 3, 32, 32), samples)
    with pytest.raises(TypeError, match='captions=CaptionFeatures or '
                       'CaptionTokens, got NoneType'):
        model.head.loss(model.extract_feat(torch.randn(2, 3, 32, 32)),
                        samples)
