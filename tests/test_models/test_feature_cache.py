# Copyright (c) mmltml contributors. All rights reserved.
"""The image-feature cache is exact: cached steps give the same features,
logits and losses as the image pipeline."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import Compose, default_collate
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS

import mmltml  # noqa: F401
from mmltml.datasets.cached_feature_dataset import _interleave
from mmltml.engine.hooks import FeatureCacheHook
from tests._tiny_setup import REPO_ROOT, make_ltml_subset

CLIP_MEAN = [122.770938, 116.7460125, 104.09373615]
CLIP_STD = [68.5005327, 66.6321579, 70.32316305]
#: The shipped pre-trained tiny CLIP (64 px): unlike a randomly initialised
#: one, its features depend strongly on the image and on its orientation.
TINY_CLIP = 'tinyclip-synthetic'
TINY_CLIP_WEIGHTS = osp.join(REPO_ROOT, 'checkpoints',
                             'tinyclip_synthetic.pth')
SIZE = 64


def pipeline(flip_prob=0.5, extra=()):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(SIZE, SIZE), backend='pillow',
             interpolation='bicubic'), *extra,
        dict(type='RandomFlip', prob=flip_prob, direction='horizontal'),
        dict(type='PackInputs', algorithm_keys=['caption']),
    ]


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory, ltml_dir):
    root = str(tmp_path_factory.mktemp('ltml'))
    # smooth images: features differ strongly between images and views, so
    # serving one image's or view's features for another is caught
    return make_ltml_subset(root, ltml_dir, 'voc', smooth=True)


def build_dataset(voc_root, **kwargs):
    return DATASETS.build(dict(
        type='CachedFeatureDataset',
        dataset=dict(type='VOCLTDataset', data_root=voc_root, split='train',
                     with_captions=True,
                     pipeline=kwargs.pop('pipeline', pipeline())),
        **kwargs))


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='CLIPPromptClassifier',
        data_preprocessor=dict(num_classes=20, mean=CLIP_MEAN, std=CLIP_STD,
                               to_rgb=True, to_onehot=True),
        head_inputs=dict(captions=dict(type='CaptionFeaturesInput')),
        backbone=dict(type='CLIPPromptBackbone', classnames='voc-lt',
                      clip_model_cfg=TINY_CLIP,
                      clip_pretrained=TINY_CLIP_WEIGHTS,
                      prompt_learner=dict(n_ctx=2)),
        head=dict(type='CLIPPromptHead',
                  loss=dict(type='CrossEntropyLoss', use_sigmoid=True),
                  cse_loss=dict(type='CSELoss', class_freq=[5] * 20)))).eval()


def fill(dataset, model):
    runner = SimpleNamespace(model=model, epoch=0,
                             train_dataloader=SimpleNamespace(dataset=dataset))
    FeatureCacheHook().before_train(runner)
    return dataset


def image_batch(dataset, indices, flip):
    """The images as the plain pipeline without its flip gives them, or
    mirrored by hand (independent of the cache's own view pipelines)."""
    no_flip = Compose([TRANSFORMS.build(t) for t in pipeline(flip_prob=0.0)])
    batch = default_collate(
        [no_flip(dataset.get_data_info(i)) for i in indices])
    if flip:
        batch['inputs'] = [img.flip(-1) for img in batch['inputs']]
    return batch


def test_cached_features_equal_encoder_output(voc_root, model):
    dataset = fill(build_dataset(voc_root), model)
    assert dataset.cached and dataset.features.shape[1] == 2
    indices = [0, 3, len(dataset) - 1]
    for flip in (False, True):
        batch = model.data_preprocessor(image_batch(dataset, indices, flip))
        expected = model.backbone.clip.encode_image(batch['inputs'])
        torch.testing.assert_close(dataset.features[indices, int(flip)],
                                   expected, atol=1e-5, rtol=1e-5)
    feats = dataset.features
    assert (feats[:, 0] - feats[:, 1]).norm() > 0.1 * feats[:, 0].norm()
    assert (feats[1:, 0] - feats[:-1, 0]).norm() > 0.1 * feats[:, 0].norm()


def test_cached_step_equals_image_step(voc_root, model):
    """Key-based inputs end to end: the dataset yields
    ``dict(image_feats=[E])``, collated to [B, E], pre-processed to fp32
    and read by name by the backbone; logits and losses equal the image
    step's."""
    dataset = fill(build_dataset(voc_root, seed=0), model)
    cached = default_collate([dataset[i] for i in range(6)])
    assert set(cached['inputs']) == {'image_feats'}
    assert cached['inputs']['image_feats'].shape == (
        6, model.backbone.clip.visual.output_dim)
    flips = [s.flip for s in cached['data_samples']]
    assert len(set(flips)) == 2  # both views were served
    images = default_collate([
        dataset._view_pipeline(f)(dataset.get_data_info(i))
        for i, f in enumerate(flips)
    ])
    results = []
    for batch in (cached, images):
        data = model.data_preprocessor(batch, True)
        feats = model.extract_feat(data['inputs'])
        if batch is cached:
            assert data['inputs']['image_feats'].dtype == torch.float32
            assert torch.equal(feats.image_feats,
                               data['inputs']['image_feats'])
        results.append((model.head(feats),
                        model.loss(data['inputs'], data['data_samples'])))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5,
                               rtol=1e-5)
    for key in ('loss_cls', 'loss_cse'):
        torch.testing.assert_close(results[0][1][key], results[1][1][key],
                                   atol=1e-6, rtol=1e-5)
    assert cached['data_samples'][0].caption == \
        images['data_samples'][0].caption


def test_random_pipeline_is_served_uncached(voc_root, model):
    crop = dict(type='RandomResizedCrop', scale=SIZE, backend='pillow')
    dataset = fill(build_dataset(voc_root, pipeline=pipeline(extra=[crop])),
                   model)
    assert not dataset.enable and not dataset.cached
    assert dataset[0]['inputs'].dim() == 3  # an image


def test_disk_cache_key_follows_weights_and_pipeline(
        voc_root, model, tmp_path):
    first = fill(build_dataset(voc_root, cache_dir=str(tmp_path)), model)
    assert len(list(tmp_path.iterdir())) == 1
    again = fill(build_dataset(voc_root, cache_dir=str(tmp_path)), model)
    torch.testing.assert_close(again.features, first.features)
    assert len(list(tmp_path.iterdir())) == 1  # reused, not rebuilt

    no_flip = build_dataset(voc_root, cache_dir=str(tmp_path),
                            pipeline=pipeline(flip_prob=0.0))
    fill(no_flip, model)
    assert no_flip.features.shape[1] == 1
    with torch.no_grad():
        model.backbone.clip.visual.attnpool.c_proj.bias.add_(1.0)
    try:
        changed = fill(build_dataset(voc_root, cache_dir=str(tmp_path)),
                       model)
    finally:
        with torch.no_grad():
            model.backbone.clip.visual.attnpool.c_proj.bias.sub_(1.0)
    assert len(list(tmp_path.iterdir())) == 3
    assert not torch.allclose(changed.features, first.features)


def test_interleave_undoes_rank_sharding():
    full = torch.arange(14.).view(7, 2)
    shards = [full[r::3] for r in range(3)]
    torch.testing.assert_close(_interleave(shards, 7), full)


@pytest.mark.parametrize('damage', ['garbage', 'wrong_shape'])
def test_damaged_disk_cache_is_rebuilt_with_a_warning(
        voc_root, model, tmp_path, monkeypatch, damage):
    first = fill(build_dataset(voc_root, cache_dir=str(tmp_path)), model)
    (path, ) = tmp_path.iterdir()
    if damage == 'garbage':
        path.write_bytes(b'not a tensor file')
    else:
        torch.save(first.features[:-1], path)
    messages = []
    monkeypatch.setattr('mmltml.datasets.cached_feature_dataset.print_log',
                        lambda msg, **kwargs: messages.append(msg))
    again = fill(build_dataset(voc_root, cache_dir=str(tmp_path)), model)
    assert any(str(path) in m and 'rebuilding' in m for m in messages)
    torch.testing.assert_close(again.features, first.features)
    torch.testing.assert_close(torch.load(path), first.features)  # fixed


def test_rank_without_images_gathers_an_empty_shard(voc_root, model,
                                                    monkeypatch):
    """More ranks than images: the empty shards keep the feature width."""
    dataset = build_dataset(voc_root)
    total = len(dataset)
    monkeypatch.setattr(
        'mmltml.datasets.cached_feature_dataset.get_dist_info',
        lambda: (total + 1, total + 2))  # this rank gets no index
    gathered = {}

    def fake_gather(local):
        gathered['local'] = local
        shards = [torch.ones(1, 7) * r for r in range(total)]
        return shards + [local, local]

    monkeypatch.setattr(
        'mmltml.datasets.cached_feature_dataset.all_gather_object',
        fake_gather)
    out = dataset._encode_view(lambda batch: None, False, (7, ))
    assert gathered['local'].shape == (0, 7)
    assert out.shape == (total, 7)
    assert out[:, 0].tolist() == list(range(total))


def test_trainable_image_encoder_is_never_cached(voc_root, model,
                                                 monkeypatch):
    """Features of an encoder that learns go stale after one step: images
    are served, with a warning."""
    messages = []
    monkeypatch.setattr('mmltml.engine.hooks.feature_cache_hook.print_log',
                        lambda msg, **kwargs: messages.append(msg))
    visual = model.backbone.clip.visual
    visual.requires_grad_(True)
    try:
        assert model.frozen_image_encoder(training=True) is None
        dataset = fill(build_dataset(voc_root), model)
    finally:
        visual.requires_grad_(False)
    assert dataset.enable and not dataset.cached
    assert dataset[0]['inputs'].dim() == 3  # an image
    assert any('serving images' in m for m in messages)
    assert fill(build_dataset(voc_root), model).cached  # frozen: cached


def test_model_without_the_interface_is_served_images(voc_root, model,
                                                      monkeypatch):
    """Only a model that implements CachesImageFeatures is asked; another
    one (here mmpretrain's ImageClassifier) trains on images."""
    messages = []
    monkeypatch.setattr('mmltml.engine.hooks.feature_cache_hook.print_log',
                        lambda msg, **kwargs: messages.append(msg))
    plain = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=20, in_channels=512)))
    dataset = fill(build_dataset(voc_root), plain)
    assert not dataset.cached and dataset[0]['inputs'].dim() == 3
    assert any('ImageClassifier offers no frozen image encoder' in m
               for m in messages)


def test_the_interface_refuses_image_operations(model, monkeypatch):
    """The model's frozen encoder is refused for training with batch
    augments (and for any step with padding), not for evaluation."""
    preprocessor = model.data_preprocessor
    monkeypatch.setattr(preprocessor, 'batch_augments', object())
    with pytest.raises(ValueError, match='batch_augments'):
        model.frozen_image_encoder(training=True)
    encoder = model.frozen_image_encoder(training=False)
    assert encoder.feature_dim == model.backbone.clip.visual.output_dim
    monkeypatch.setattr(preprocessor, 'pad_size_divisor', 32)
    with pytest.raises(ValueError, match='pad_size_divisor=32'):
        model.frozen_image_encoder(training=False)


def test_fingerprint_follows_weights_and_normalisation(model, monkeypatch):
    encoder = model.frozen_image_encoder(training=False)
    before = encoder.fingerprint()
    assert encoder.fingerprint() == before
    monkeypatch.setattr(model.data_preprocessor, 'to_rgb', False)
    assert encoder.fingerprint() != before
    monkeypatch.undo()
    with torch.no_grad():
        model.backbone.clip.visual.attnpool.c_proj.bias.add_(1.0)
    try:
        assert encoder.fingerprint() != before
    finally:
        with torch.no_grad():
            model.backbone.clip.visual.attnpool.c_proj.bias.sub_(1.0)
    assert encoder.fingerprint() == before


def test_batch_augments_are_refused_before_any_image_is_encoded(
        voc_root, model, monkeypatch):
    """Mixup acts on images: with a cache it is refused up front (not after
    encoding every image); evaluation caches are unaffected."""
    preprocessor = model.data_preprocessor
    monkeypatch.setattr(preprocessor, 'batch_augments', object())
    encoded = []
    monkeypatch.setattr(model.backbone, 'encode_image',
                        lambda x: encoded.append(x) or x.mean((2, 3)))
    dataset = build_dataset(voc_root)
    runner = SimpleNamespace(model=model,
                             train_dataloader=SimpleNamespace(dataset=dataset),
                             val_dataloader=SimpleNamespace(
                                 dataset=build_dataset(voc_root)))
    with pytest.raises(ValueError, match='batch_augments'):
        FeatureCacheHook().before_train(runner)
    assert not encoded and not dataset.cached
    FeatureCacheHook().before_val(runner)  # no batch augments at test time
    assert encoded and runner.val_dataloader.dataset.cached


def test_loading_workers_give_the_serial_features_and_log_progress(
        voc_root, model, monkeypatch):
    """Images decoded in 2 DataLoader workers: bitwise the features of the
    in-process build, with progress lines and the speed in the log. Both
    builds encode batches of 4: batched matrix products may round
    differently with another batch size (they do on AVX-512 CPUs)."""
    serial = fill(build_dataset(voc_root, batch_size=4), model)
    messages = []
    monkeypatch.setattr('mmltml.datasets.cached_feature_dataset.print_log',
                        lambda msg, **kwargs: messages.append(msg))
    dataset = build_dataset(voc_root, batch_size=4)
    runner = SimpleNamespace(
        model=model, epoch=0,
        train_dataloader=SimpleNamespace(dataset=dataset, num_workers=2))
    FeatureCacheHook().before_train(runner)
    assert torch.equal(dataset.features, serial.features)
    total = len(dataset)
    for view in ('view 1/2', 'view 2/2'):
        lines = [m for m in messages if view in m]
        assert 1 < len(lines) <= 11
        assert f'{total}/{total} images' in lines[-1]
    assert any('images/s, 2 loading workers' in m for m in messages)
