# Copyright (c) mmltml contributors. All rights reserved.
"""GroupMAP ranks by the heads' raw logits, not by saturated fp32 sigmoids.

With CLIP's logit scale 100 the fp32 sigmoid is exactly 1.0 for most
classes; the expected AP is sklearn's ``average_precision_score`` on the
logits, computed independently of the head and the metric.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from sklearn.metrics import average_precision_score

import mmltml  # noqa: F401
from mmltml.engine.hooks import HeadLogitsHook, record_head_logits
from mmltml.evaluation.metrics.group_map import GroupMAP
from mmltml.models.heads import attach_logits
from mmltml.models.utils.clip_features import CLIPPromptFeatures

NUM_CLASSES, NUM_IMAGES, DIM = 6, 300, 64
CLASS_FREQ = [400, 150, 60, 30, 12, 5]


def vit_like_batch(seed=0):
    """Image / text features whose cosines look like CLIP ViT-B/16's
    (about 0.15-0.35, positives a little higher) and random labels: the
    class texts are orthonormal, so an image's cosines are its
    coordinates along them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.rand(NUM_IMAGES, NUM_CLASSES, generator=g) < 0.3
    labels[0] = True  # every class has a positive
    basis = torch.linalg.qr(torch.randn(DIM, DIM, generator=g))[0].t()
    text, rest = basis[:NUM_CLASSES], basis[NUM_CLASSES:]
    cos = (0.22 + 0.03 * torch.randn(NUM_IMAGES, NUM_CLASSES, generator=g)
           + 0.04 * labels.float())
    other = F.normalize(
        torch.randn(NUM_IMAGES, DIM - NUM_CLASSES, generator=g), dim=-1)
    image = cos @ text + (1 - cos.square().sum(1, keepdim=True)).sqrt() * (
        other @ rest)
    return image, text, labels


def predict_with_head(image, text, labels, scale=100.0):
    head = MODELS.build(dict(type='CLIPPromptHead', thr=0.5))
    samples = [
        DataSample().set_gt_label(torch.nonzero(row).flatten())
        for row in labels
    ]
    feats = CLIPPromptFeatures(image, text, torch.tensor(scale), None)
    return head.predict(feats, samples)


def group_map(samples):
    metric = GroupMAP(class_freq=CLASS_FREQ)
    metric.process(None, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def test_clip_scale_logits_rank_like_sklearn_on_logits():
    image, text, labels = vit_like_batch()
    samples = predict_with_head(image, text, labels)
    logits = 100 * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    assert 5 < logits.min() and logits.max() < 40  # CLIP-like magnitudes
    scores = torch.stack([s.pred_score for s in samples])
    assert (scores == 1.0).float().mean() > 0.5  # the fp32 sigmoid saturates
    expected = 100 * np.mean([
        average_precision_score(labels[:, k].numpy(),
                                logits[:, k].double().numpy())
        for k in range(NUM_CLASSES)
    ])
    assert group_map(samples)['mAP'] == pytest.approx(expected, abs=1e-9)


def test_logits_are_kept_in_fp32_next_to_the_sigmoid():
    image, text, labels = vit_like_batch()
    sample = predict_with_head(image, text, labels)[0]
    assert sample.pred_logits.dtype == torch.float32
    assert torch.equal(sample.pred_score, torch.sigmoid(sample.pred_logits))


def test_same_map_for_any_positive_logit_scale():
    image, text, labels = vit_like_batch(seed=1)
    maps = [group_map(predict_with_head(image, text, labels, s))['mAP']
            for s in (1.0, 17.8, 100.0)]
    assert maps[0] == pytest.approx(maps[1]) == pytest.approx(maps[2])


def test_saturated_sigmoid_scores_are_refused():
    image, text, labels = vit_like_batch()
    samples = predict_with_head(image, text, labels)
    for s in samples:
        del s.pred_logits
    with pytest.raises(ValueError, match='HeadLogitsHook'):
        group_map(samples)


def test_hard_binary_predictions_are_accepted():
    labels = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0]])
    samples = [
        DataSample().set_pred_score(row.float()).set_gt_score(row)
        for row in labels
    ]
    assert GroupMAP(class_freq=[200, 5]).compute_metrics(
        [s.to_dict() for s in samples])['mAP'] == 100.0


def test_predictions_with_and_without_logits_are_not_mixed():
    metric = GroupMAP(class_freq=[200, 5])
    one = DataSample().set_pred_score(torch.tensor([.9, .1])).set_gt_score(
        torch.tensor([1, 0]))
    two = one.clone()
    two.set_field(torch.tensor([2., -2.]), 'pred_logits')
    metric.process(None, [one.to_dict(), two.to_dict()])
    with pytest.raises(ValueError, match='pred_logits'):
        metric.compute_metrics(metric.results)


def tiny_stock_classifier():
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=18, base_channels=8,
                          out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='MultiLabelLinearClsHead', num_classes=3,
                      in_channels=64),
            data_preprocessor=dict(num_classes=3, to_onehot=True)))


def stock_batch():
    torch.manual_seed(0)
    return dict(
        inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                for _ in range(4)],
        data_samples=[DataSample().set_gt_label([i % 3]) for i in range(4)])


def test_stock_head_logits_are_recorded_and_removed():
    model = tiny_stock_classifier().eval()
    batch = stock_batch()
    handles = record_head_logits(model)
    with torch.no_grad():
        samples = model.test_step(batch)
        data = model.data_preprocessor(batch)
        expected = model.head(model.extract_feat(data['inputs']))
    for sample, row in zip(samples, expected):
        assert torch.equal(sample.pred_logits, row)
        assert torch.equal(sample.pred_score, torch.sigmoid(row))
    for handle in handles:
        handle.remove()
    with torch.no_grad():  # (predict fills the batch's samples in place)
        assert 'pred_logits' not in model.test_step(stock_batch())[0]


def test_hook_records_during_a_test_run_only():

    class Runner:
        model = tiny_stock_classifier().eval()

    hook, runner = HeadLogitsHook(), Runner()
    hook.before_test(runner)
    with torch.no_grad():
        assert 'pred_logits' in runner.model.test_step(stock_batch())[0]
    hook.after_test(runner)
    with torch.no_grad():
        assert 'pred_logits' not in runner.model.test_step(stock_batch())[0]


def test_logits_a_head_stored_are_kept():
    image, text, labels = vit_like_batch()
    samples = predict_with_head(image[:2], text, labels[:2])
    own = samples[0].pred_logits.clone()
    attach_logits(samples, torch.zeros(2, NUM_CLASSES), overwrite=False)
    assert torch.equal(samples[0].pred_logits, own)


def test_every_mmltml_head_stores_its_logits():
    """Every registered multi-label head of mmltml (and every new one)
    inherits PredLogitsMixin, the one place that writes pred_logits; its
    predictions carry the fp32 scores its forward returned."""
    import inspect

    from mmpretrain.models.heads import MultiLabelClsHead

    from mmltml.models.heads import PredLogitsMixin
    heads = [
        cls for cls in MODELS.module_dict.values()
        if inspect.isclass(cls) and issubclass(cls, MultiLabelClsHead)
        and cls.__module__.startswith('mmltml.')
    ]
    assert {'CLIPPromptHead', 'VSIHead'} <= {c.__name__ for c in heads}
    assert all(issubclass(cls, PredLogitsMixin) for cls in heads), heads
    vsi = MODELS.build(dict(type='VSIHead', num_classes=3, in_channels=8,
                            embed_dims=16, num_heads=2, head_dims=8,
                            mlp_dims=16, text_embeds=torch.randn(3, 4)))
    feats = (torch.randn(2, 8, 2, 2), )
    vsi.eval()
    preds = vsi.predict(feats)
    torch.testing.assert_close(torch.stack([p.pred_logits for p in preds]),
                               vsi(feats), rtol=0, atol=0)
