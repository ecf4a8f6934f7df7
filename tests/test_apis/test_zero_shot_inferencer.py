# Copyright (c) mmltml contributors. All rights reserved.
"""ZeroShotInferencer against open_clip's own API: image features from
``encode_image``, class features from ``encode_text`` averaged over the
templates (CLIP's prompt ensembling), logits ``exp(logit_scale) * cos``.

The tiny CLIP with its shipped weights in the default tier; an open_clip
model by name with a local weights file (random weights) is ``slow``.
"""
import os.path as osp

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmltml.apis import ZeroShotInferencer, zero_shot_config
from tests._tiny_setup import REPO_ROOT

CHECKPOINT = osp.join(REPO_ROOT, 'checkpoints', 'tinyclip_synthetic.pth')
TINY_CFG = dict(
    embed_dim=128,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=16, image_size=64),
    text_cfg=dict(context_length=32, width=128, heads=2, layers=2))
OPENAI_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
OPENAI_STD = np.array([0.26862954, 0.26130258, 0.27577711])
CLASSES = ['red circle', 'blue star', 'green square', 'yellow triangle',
           'pink cross']
TEMPLATES = ['a photo of a {}.', 'there is a {}.']


def _images(tmp_path, sizes):
    """Smooth random colour images (width, height) written as PNG."""
    rng = np.random.default_rng(0)
    paths = []
    for i, (width, height) in enumerate(sizes):
        grid = rng.integers(0, 256, (3, 4, 3)).astype(np.uint8)
        image = Image.fromarray(grid).resize((width, height), Image.BILINEAR)
        paths.append(str(tmp_path / f'{i}.png'))
        image.save(paths[-1])
    return paths


@torch.no_grad()
def open_clip_logits(model, tokenizer, paths, size, classes, templates):
    """Logits by open_clip's API: PIL bilinear resize to ``size`` (as the
    zero-shot configs), OpenAI normalisation, ``encode_image``; per class
    the normalised mean of the normalised ``encode_text`` features of its
    templates."""
    pixels = []
    for path in paths:
        image = Image.open(path).convert('RGB').resize(size, Image.BILINEAR)
        array = (np.asarray(image) / 255. - OPENAI_MEAN) / OPENAI_STD
        pixels.append(torch.from_numpy(array).permute(2, 0, 1).float())
    image_feats = F.normalize(model.encode_image(torch.stack(pixels)), dim=-1)
    class_feats = []
    for name in classes:
        texts = tokenizer([t.format(name) for t in templates])
        feats = F.normalize(model.encode_text(texts), dim=-1)
        class_feats.append(F.normalize(feats.mean(0), dim=-1))
    return model.logit_scale.exp() * image_feats @ torch.stack(class_feats).T


@pytest.fixture(scope='module')
def tiny_clip():
    model = open_clip.CLIP(**TINY_CFG)
    model.load_state_dict(torch.load(CHECKPOINT, weights_only=True))
    model.float().eval()
    return model, open_clip.tokenizer.SimpleTokenizer(context_length=32)


@pytest.mark.parametrize('templates', [TEMPLATES[:1], TEMPLATES])
def test_tiny_clip_logits_and_ranking(tiny_clip, tmp_path, templates):
    paths = _images(tmp_path, [(64, 64), (80, 48), (33, 70)])
    expected = open_clip_logits(*tiny_clip, paths, (64, 64), CLASSES,
                                templates)
    infer = ZeroShotInferencer(CLASSES, clip_model_cfg='tinyclip-synthetic',
                               clip_pretrained=CHECKPOINT,
                               templates=templates, device='cpu', topk=3)
    results = infer(paths)
    for result, logits in zip(results, expected):
        np.testing.assert_allclose(result['pred_logits'], logits.numpy(),
                                   atol=2e-4, rtol=1e-5)
        best = torch.argsort(logits, descending=True)[:3].tolist()
        assert result['pred_classes'] == [CLASSES[i] for i in best]
        assert result['pred_label_logits'] == pytest.approx(
            logits[best].tolist(), abs=2e-4)
        assert result['pred_label_scores'] == pytest.approx(
            torch.sigmoid(logits[best]).tolist(), abs=1e-5)
    # the threshold rule: every class whose sigmoid reaches thr, by logit
    infer.topk, infer.thr = None, 0.5
    (result, ) = infer(paths[:1])
    positive = sorted(np.flatnonzero(expected[0].numpy() >= 0),
                      key=lambda i: -expected[0][i])
    assert result['pred_classes'] == [CLASSES[i] for i in positive]


def test_class_names_from_a_label_file(tmp_path):
    labels = tmp_path / 'labels.txt'
    labels.write_text('red circle 0\nblue star 1\n')
    infer = ZeroShotInferencer(str(labels),
                               clip_model_cfg='tinyclip-synthetic',
                               clip_pretrained=CHECKPOINT, device='cpu')
    assert infer.classes == ('red circle', 'blue star')
    assert infer.config.model.backbone.classnames == ['red circle',
                                                      'blue star']


def test_config_is_the_zero_shot_configs_model():
    """The written config builds the model of configs/synthetic/
    clip_tinyclip_zeroshot_synthetic.py for those classes."""
    from mmengine.config import Config
    shipped = Config.fromfile(osp.join(
        REPO_ROOT, 'configs', 'synthetic',
        'clip_tinyclip_zeroshot_synthetic.py'))
    ours = zero_shot_config(['a', 'b'], clip_model_cfg='tinyclip-synthetic',
                            clip_pretrained=shipped.model.backbone.
                            clip_pretrained, image_size=(64, 64))
    for key in ('type', 'prompt_learner', 'templates', 'clip_model_cfg',
                'clip_pretrained'):
        assert ours.model.backbone[key] == shipped.model.backbone[key], key
    assert ours.model.type == shipped.model.type
    assert ours.model.head.type == shipped.model.head.type
    for key in ('mean', 'std', 'to_rgb'):
        assert ours.model.data_preprocessor[key] == pytest.approx(
            shipped.data_preprocessor[key])


@pytest.mark.slow
def test_open_clip_model_by_name_with_a_weights_file(tmp_path):
    """Any open_clip model name with a local weights file (random weights
    of ViT-S-32-alt, 43 M parameters): open_clip's 224 px input, its
    tokenizer, its logit scale."""
    torch.manual_seed(0)
    reference = open_clip.create_model('ViT-S-32-alt').eval()
    weights = str(tmp_path / 'vit_s32.pth')
    torch.save(reference.state_dict(), weights)
    paths = _images(tmp_path, [(224, 224), (300, 200)])
    expected = open_clip_logits(reference,
                                open_clip.get_tokenizer('ViT-S-32-alt'),
                                paths, (224, 224), CLASSES, TEMPLATES)
    infer = ZeroShotInferencer(CLASSES, clip_model_name='ViT-S-32-alt',
                               clip_pretrained=weights, templates=TEMPLATES,
                               device='cpu', topk=len(CLASSES))
    for result, logits in zip(infer(paths), expected):
        np.testing.assert_allclose(result['pred_logits'], logits.numpy(),
                                   atol=1e-3, rtol=1e-4)
        order = torch.argsort(logits, descending=True).tolist()
        assert result['pred_classes'] == [CLASSES[i] for i in order]
