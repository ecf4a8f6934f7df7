# Copyright (c) mmltml contributors. All rights reserved.
"""CachedFeaturePreprocessor: images as mmpretrain's; cached features
(``dict(image_feats=...)``) untouched, with labels as mmpretrain's."""
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401

MEAN, STD = [10., 20., 30.], [2., 4., 8.]


def _build(**kwargs):
    return MODELS.build(dict(type='CachedFeaturePreprocessor', mean=MEAN,
                             std=STD, to_rgb=True, num_classes=4,
                             to_onehot=True, **kwargs))


def _samples(num):
    return [DataSample().set_gt_label([i % 4]) for i in range(num)]


def test_images_are_processed_as_by_mmpretrain():
    images = torch.randint(0, 255, (2, 3, 5, 5), dtype=torch.uint8)
    reference = MODELS.build(dict(type='ClsDataPreprocessor', mean=MEAN,
                                  std=STD, to_rgb=True, num_classes=4,
                                  to_onehot=True))
    ours = _build()(dict(inputs=images, data_samples=_samples(2)))
    theirs = reference(dict(inputs=images, data_samples=_samples(2)))
    torch.testing.assert_close(ours['inputs'], theirs['inputs'])
    expected = (images[:, [2, 1, 0]].float() -
                torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(
                    STD).view(1, 3, 1, 1)
    torch.testing.assert_close(ours['inputs'], expected)


@pytest.mark.parametrize('dim', [3, 16])
def test_features_pass_unchanged_with_labels(dim):
    """E == 3 must not be mistaken for RGB channels (no flip, no scaling);
    the labels are those mmpretrain's pre-processor gives."""
    feats = torch.randn(4, dim, dtype=torch.float64)
    preprocessor = _build()
    out = preprocessor(dict(inputs=dict(image_feats=feats.clone()),
                            data_samples=_samples(4)), training=True)
    assert set(out['inputs']) == {'image_feats'}
    assert out['inputs']['image_feats'].dtype == torch.float32
    torch.testing.assert_close(out['inputs']['image_feats'], feats.float())
    reference = MODELS.build(dict(type='ClsDataPreprocessor', num_classes=4,
                                  to_onehot=True))(
                                      dict(inputs=torch.zeros(4, 3, 2, 2),
                                           data_samples=_samples(4)))
    for ours, theirs in zip(out['data_samples'], reference['data_samples']):
        assert torch.equal(ours.gt_score, theirs.gt_score)
        assert torch.equal(ours.gt_label, theirs.gt_label)
    assert [s.gt_score.argmax().item()
            for s in out['data_samples']] == [0, 1, 2, 3]
    # the pre-processor's own settings are never touched by a call
    assert preprocessor.to_rgb and preprocessor._enable_normalize


def test_other_dict_inputs_are_refused():
    with pytest.raises(ValueError, match="'image_feats'.*'images'"):
        _build()(dict(inputs=dict(images=torch.randn(2, 3)),
                      data_samples=_samples(2)))


@pytest.mark.parametrize('kwargs, training, match', [
    (dict(pad_size_divisor=32), False, 'pad_size_divisor=32'),
    (dict(batch_augments=dict(augments=dict(type='Mixup', alpha=0.8))),
     True, 'batch_augments'),
])
def test_image_only_operations_are_refused_on_features(
        kwargs, training, match):
    preprocessor = _build(**kwargs)
    with pytest.raises(ValueError, match=match):
        preprocessor(dict(inputs=dict(image_feats=torch.randn(4, 16)),
                          data_samples=_samples(4)), training=training)
