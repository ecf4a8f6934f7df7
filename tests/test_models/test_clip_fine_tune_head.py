# Copyright (c) mmltml contributors. All rights reserved.
"""LM-CLIP's fully fine-tuned CLIP (``CLIPFineTuneHead`` on
``CLIPVisionBackbone(out_type='embedding')``, ``LabelCaptionsInput``,
``CLIPContrastiveLoss``) against open_clip's own ``encode_image`` /
``encode_text`` / ``ClipLoss`` of the same weights, and the label captions
against a transcription of the official construction."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from open_clip.loss import ClipLoss

import mmltml  # noqa: F401
from mmltml.datasets import VOCLTDataset
from mmltml.datasets.categories import read_label_file
from mmltml.models.losses import CLIPContrastiveLoss
from mmltml.models.utils.clip_loader import build_clip_and_tokenizer
from mmltml.models.utils.clip_text import cut_words_to_fit

CONTEXT = 13  # short, so that label captions of a few names overflow
RESNET = dict(
    embed_dim=16,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=CONTEXT, vocab_size=49408, width=16,
                  heads=2, layers=2))
VIT = dict(
    embed_dim=16,
    vision_cfg=dict(layers=2, width=32, head_width=16, patch_size=8,
                    image_size=32),
    text_cfg=dict(context_length=CONTEXT, vocab_size=49408, width=16,
                  heads=2, layers=1))
NAMES = ['cat', 'traffic light', 'teddy bear', 'dining table']
LABELS = ([0], [3, 1], [2, 0, 1, 3], [1, 2])
#: CLIP's temperature of these weights: not open_clip's initial 1 / 0.07
SCALE = 30.0


@pytest.fixture(scope='module', params=['resnet', 'vit'])
def tiny_clip(request, tmp_path_factory):
    """A random tiny CLIP saved as a local weights file, and the model."""
    cfg = dict(resnet=RESNET, vit=VIT)[request.param]
    torch.manual_seed(0)
    clip, tokenizer = build_clip_and_tokenizer(model_cfg=cfg)
    with torch.no_grad():
        clip.logit_scale.fill_(np.log(SCALE))
        for module in clip.modules():  # open_clip zeroes the last BN of
            if isinstance(module, torch.nn.BatchNorm2d):  # each block
                module.weight.uniform_(0.5, 1.5)
    path = str(tmp_path_factory.mktemp('clip') / 'tiny_clip.pth')
    torch.save(clip.state_dict(), path)
    return cfg, path, clip.eval(), tokenizer


def model_cfg(cfg, weights, contrastive=True, truncate_text=True):
    text = dict(type='CLIPClassTextEmbeds', classnames=NAMES,
                template='a photo of a {}', clip_model_cfg=cfg,
                clip_pretrained=weights, trainable=True,
                train_logit_scale=True, truncate_text=truncate_text)
    head = dict(type='CLIPFineTuneHead', num_classes=len(NAMES),
                text_embeds=text,
                # BAL of LM-CLIP, without the batch-max division: random
                # towers give negative cosines (trained CLIP's are positive)
                loss=dict(type='BalancedAsymmetricLoss', gamma_neg=9.8,
                          label_smoothing=0.1, class_weight_power=1.6,
                          class_freq=[40, 20, 5, 2], loss_weight=5.0,
                          normalize=None))
    if not contrastive:
        head['contrastive_loss'] = None
    return dict(
        type='CLIPPromptClassifier',
        data_preprocessor=dict(num_classes=len(NAMES), to_onehot=True),
        head_inputs=dict(label_captions=dict(
            type='LabelCaptionsInput', classnames=NAMES)) if contrastive
        else None,
        backbone=dict(type='CLIPVisionBackbone', clip_model_cfg=cfg,
                      clip_pretrained=weights, out_type='embedding',
                      frozen=False),
        head=head)


def build(cfg, weights, contrastive=True, init=True, **kwargs):
    model = MODELS.build(model_cfg(cfg, weights, contrastive, **kwargs))
    if init:
        model.init_weights()
    return model


def batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(len(LABELS), 3, 32, 32, generator=generator)
    samples = [DataSample().set_gt_label(list(ls)) for ls in LABELS]
    for sample in samples:
        sample.set_gt_score(
            torch.zeros(len(NAMES)).index_fill_(0, sample.gt_label, 1))
    return images, samples


def strict_tokenize(tokenizer, text, context_length):
    """OpenAI ``clip.tokenize(text, context_length)`` without truncation:
    a text whose tokens (start and end included) do not fit raises."""
    tokens = [tokenizer.sot_token_id] + tokenizer.encode(text) + \
        [tokenizer.eot_token_id]
    if len(tokens) > context_length:
        raise RuntimeError(f'Input {text} is too long for context length '
                           f'{context_length}')
    out = torch.zeros(1, context_length, dtype=torch.long)
    out[0, :len(tokens)] = torch.tensor(tokens)
    return out


def official_caption_tokens(tokenizer, names, labels, context_length):
    """The official label caption (``dataset_loaders/coco_mlt.py:122-155``,
    transcribed): "a photo of a " + ", ".join(names in list-file order),
    tokenised with fewer and fewer words until the tokenizer accepts it."""
    caption = 'a photo of a ' + ', '.join(names[i] for i in labels)
    words = caption.split(' ')
    max_words = len(words)
    while True:
        try:
            return strict_tokenize(tokenizer, ' '.join(words[:max_words + 1]),
                                   context_length)
        except RuntimeError:
            max_words -= 1


def test_logits_are_clips_scaled_cosines(tiny_clip):
    cfg, weights, clip, tokenizer = tiny_clip
    model = build(cfg, weights).eval()
    images, samples = batch()
    with torch.no_grad():
        image = clip.encode_image(images, normalize=True)
        text = clip.encode_text(
            tokenizer([f'a photo of a {n}' for n in NAMES]), normalize=True)
        expected = clip.logit_scale.exp() * image @ text.t()
        logits = model(images, mode='tensor')
        predicted = model.predict(images, samples)
    assert float(clip.logit_scale.exp().detach()) == pytest.approx(SCALE)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(
        torch.stack([s.pred_logits for s in predicted]), expected)


def test_contrastive_loss_is_open_clips_clip_loss(tiny_clip):
    cfg, weights, clip, tokenizer = tiny_clip
    model = build(cfg, weights).eval()  # BatchNorm statistics as clip's
    images, samples = batch()
    captions = ['a photo of a ' + ', '.join(NAMES[i] for i in ls)
                for ls in LABELS]
    with torch.no_grad():
        losses = model.loss(images, samples)
        expected = ClipLoss()(
            clip.encode_image(images, normalize=True),
            clip.encode_text(
                torch.cat([
                    official_caption_tokens(tokenizer, NAMES, ls, CONTEXT)
                    for ls in LABELS
                ]), normalize=True), clip.logit_scale.exp())
    assert captions[2] != cut_words_to_fit(captions[2], tokenizer)  # cut
    torch.testing.assert_close(losses['loss_clip'], expected)
    assert set(losses) == {'loss_cls', 'loss_clip'}


def test_clip_contrastive_loss_alone_equals_clip_loss():
    generator = torch.Generator().manual_seed(1)
    image = torch.randn(6, 8, generator=generator)
    text = torch.randn(6, 8, generator=generator)
    scale = torch.tensor(42.0)
    expected = ClipLoss()(F.normalize(image, dim=-1),
                          F.normalize(text, dim=-1), scale)
    loss = CLIPContrastiveLoss(loss_weight=2.0)(image.half(), text, scale)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, 2 * expected, rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(
        CLIPContrastiveLoss()(image, text, scale), expected)


def test_every_parameter_gets_a_gradient(tiny_clip):
    """Both towers and the logit scale train (DDP needs every trainable
    parameter used)."""
    cfg, weights, _, _ = tiny_clip
    model = build(cfg, weights).train()
    images, samples = batch()
    losses = model.loss(images, samples)
    sum(losses.values()).backward()
    params = dict(model.named_parameters())
    assert all(p.requires_grad for p in params.values())
    missing = [n for n, p in params.items()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []
    assert 'head.text_embeds.source.clip.logit_scale' in params
    assert any(n.startswith('backbone.visual.') for n in params)
    assert any(n.startswith('head.text_embeds.source.clip.transformer')
               for n in params)


def test_truncated_text_gives_the_same_losses_and_gradients(tiny_clip):
    """``truncate_text=True`` (the configs') runs the text tower up to the
    longest end-of-text position: the same losses and gradients as the
    whole context, up to float rounding."""
    cfg, weights, _, _ = tiny_clip
    images, samples = batch()
    results = []
    for truncate in (False, True):
        model = build(cfg, weights, truncate_text=truncate).eval()
        losses = model.loss(images, samples)
        sum(losses.values()).backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        results.append((losses, grads))
    (full, full_grads), (cut, cut_grads) = results
    for key in full:
        torch.testing.assert_close(cut[key], full[key])
    assert full_grads.keys() == cut_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(cut_grads[name], grad, rtol=1e-4,
                                   atol=1e-6, msg=name)


def test_without_contrastive_loss_no_head_input():
    model = build(RESNET, None, contrastive=False, init=False)
    images, samples = batch()
    losses = model.loss(images, samples)
    assert set(losses) == {'loss_cls'} and not len(model.head_inputs)
    with pytest.raises(ValueError, match='label_captions'):
        cfg = model_cfg(RESNET, None)
        cfg['head_inputs'] = None
        MODELS.build(cfg)


def test_head_refuses_a_frozen_text_source():
    cfg = model_cfg(RESNET, None)
    cfg['head']['text_embeds']['trainable'] = False
    cfg['head']['text_embeds']['train_logit_scale'] = False
    with pytest.raises(TypeError, match='trainable=True'):
        MODELS.build(cfg)


def test_checkpoint_reload_gives_the_same_logits(tiny_clip, tmp_path):
    cfg, weights, _, _ = tiny_clip
    model = build(cfg, weights).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    images, samples = batch()
    sum(model.loss(images, samples).values()).backward()
    optimizer.step()  # weights and scale move away from the pretrained
    path = str(tmp_path / 'model.pth')
    save_checkpoint(model.state_dict(), path)
    missing = str(tmp_path / 'gone.pth')  # a reloaded model builds no CLIP
    reloaded = build(cfg, weights, init=False)
    reloaded.head.text_embeds.source.clip_source['pretrained'] = missing
    load_checkpoint(reloaded, path, strict=True)
    model.eval(), reloaded.eval()
    with torch.no_grad():
        expected = model(images, mode='tensor')
        logits = reloaded(images, mode='tensor')
    torch.testing.assert_close(logits, expected, rtol=0, atol=0)
    assert float(model.head.logit_scale().detach()) != pytest.approx(SCALE)
    assert not osp.exists(missing)


def test_word_cut_matches_the_official_one():
    """``cut_words_to_fit`` + open_clip's tokenizer give the tokens of the
    official loop, at CLIP's 77 tokens and at a short context."""
    _, tokenizer = build_clip_and_tokenizer(model_name='ViT-B-16')
    from mmltml.datasets.categories import COCO_LT_CLASSES
    rng = np.random.default_rng(0)
    for context in (77, 12):
        for size in (1, 3, 14, 40, 80):
            labels = rng.permutation(80)[:size].tolist()
            expected = official_caption_tokens(tokenizer, COCO_LT_CLASSES,
                                               labels, context)
            caption = 'a photo of a ' + ', '.join(
                COCO_LT_CLASSES[i] for i in labels)
            cut = cut_words_to_fit(caption, tokenizer, context)
            assert torch.equal(tokenizer([cut], context), expected)
            if size >= 40:
                assert cut != caption


def test_encode_texts_cuts_words_like_the_official_code(tiny_clip):
    cfg, weights, clip, tokenizer = tiny_clip
    model = build(cfg, weights).eval()
    captions = ['a photo of a ' + ', '.join(NAMES[i] for i in ls)
                for ls in LABELS]
    with torch.no_grad():
        features = model.head.text_tower.encode_texts(captions,
                                                      cut_words=True)
        expected = clip.encode_text(torch.cat([
            official_caption_tokens(tokenizer, NAMES, ls, CONTEXT)
            for ls in LABELS
        ]))
        token_cut = clip.encode_text(tokenizer(captions))
    torch.testing.assert_close(features, expected)
    assert not torch.allclose(features[2], token_cut[2])


@pytest.mark.parametrize('name', ['voc', 'coco'])
def test_label_captions_of_the_official_lists(ltml_dir, name):
    """Every training line's caption: the label names in the order the
    line writes them (a third of the VOC-LT lines are not sorted)."""
    root = osp.join(ltml_dir, name)
    names = read_label_file(osp.join(root, f'{name}_labels.txt'))
    train = osp.join(root, f'{name}_lt_train.txt')
    with open(train) as f:
        lines = [line.split() for line in f if line.strip()]
    expected = ['a photo of a ' + ', '.join(names[int(i)] for i in ids[1:])
                for ids in lines]
    if name == 'voc':
        dataset = VOCLTDataset(data_root=root, label_order='file')
    else:
        from mmltml.datasets import COCOLTDataset
        dataset = COCOLTDataset(data_root=root, label_order='file')
    provider = MODELS.build(dict(type='LabelCaptionsInput',
                                 classnames=f'{name}-lt'))
    samples = [DataSample().set_gt_label(dataset.get_data_info(i)['gt_label'])
               for i in range(len(dataset))]
    captions = provider(None, None, samples).texts
    assert list(captions) == expected
    unsorted = sum(ids[1:] != sorted(ids[1:], key=int) for ids in lines)
    assert unsorted == (380 if name == 'voc' else 0)
    # the default keeps sorted ids, so the captions differ there
    sorted_ds = type(dataset)(data_root=root)
    differ = sum(
        sorted_ds.get_data_info(i)['gt_label'] !=
        dataset.get_data_info(i)['gt_label'] for i in range(len(dataset)))
    assert differ == unsorted


def test_label_captions_input_refuses_an_unknown_label():
    provider = MODELS.build(dict(type='LabelCaptionsInput',
                                 classnames=NAMES))
    sample = DataSample(metainfo=dict(img_path='x.jpg')).set_gt_label([5])
    with pytest.raises(ValueError, match='label id 5 of image x.jpg'):
        provider(None, None, [sample])


def test_class_dependent_fields_are_declared():
    """ClassCountCheckHook sees the head's, the loss's and the label
    captions' class counts."""
    from mmltml.engine.hooks import ClassCountCheckHook
    model = build(RESNET, None, init=False)
    fields = ClassCountCheckHook.model_fields(model)
    declared = {where: f.num_classes for where, f in fields}
    assert {
        'model.head_inputs.label_captions.classnames (LabelCaptionsInput)':
        4,
        'model.head.num_classes (CLIPFineTuneHead)': 4,
        'model.head.loss_module.class_freq (BalancedAsymmetricLoss class '
        'statistics)': 4,
    }.items() <= declared.items()
