# Copyright (c) mmltml contributors. All rights reserved.
"""Build the feature caches of :class:`CachedFeatureDataset` loaders."""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from mmltml.datasets import CachedFeatureDataset
from mmltml.structures.frozen_image_encoder import CachesImageFeatures


@HOOKS.register_module()
class FeatureCacheHook(Hook):
    """Fill the feature cache of each :class:`CachedFeatureDataset` loader
    once, with the model's own frozen image encoder, before the loop that
    uses it (``before_train``, ``before_val``, ``before_test``), and set the
    training dataset's epoch before each training epoch (its flips are
    drawn per epoch, as mmengine's ``DistSamplerSeedHook`` does for
    samplers; also in ``before_train``, for loops that call no epoch
    hooks). Validation and test datasets are set to epoch 0. A
    :class:`CachedFeatureDataset` whose pipeline flips refuses to serve
    before its epoch is set, so a run without this hook stops at its first
    batch with an error that says to add it.

    The model states what it can cache by implementing
    :class:`~mmltml.structures.frozen_image_encoder.CachesImageFeatures`;
    its :class:`FrozenImageEncoder` is handed to
    :meth:`CachedFeatureDataset.build_cache`, which loads the images with
    the loader's ``num_workers`` workers while the main process encodes
    them. A model that offers no frozen encoder is served images, with a
    warning. A model that refuses cached features (e.g. batch augments in
    its data pre-processor) raises before any image is encoded.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Cache the training images' features; set the run's epoch."""
        self._build(runner, runner.train_dataloader, training=True)
        self.before_train_epoch(runner)

    def before_train_epoch(self, runner) -> None:
        """Draw this epoch's flips (before the epoch's iterator starts)."""
        _set_epoch(runner.train_dataloader, runner.epoch)

    def before_val(self, runner) -> None:
        """Cache the validation images' features."""
        self._build(runner, runner.val_dataloader)
        _set_epoch(runner.val_dataloader, 0)

    def before_test(self, runner) -> None:
        """Cache the test images' features."""
        self._build(runner, runner.test_dataloader)
        _set_epoch(runner.test_dataloader, 0)

    def _build(self, runner, dataloader, training: bool = False) -> None:
        dataset = getattr(dataloader, 'dataset', None)
        if not isinstance(dataset, CachedFeatureDataset) or \
                not dataset.enable or dataset.cached:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        encoder = model.frozen_image_encoder(training) if isinstance(
            model, CachesImageFeatures) else None
        if encoder is None:
            print_log(
                f'FeatureCacheHook: {type(model).__name__} offers no frozen '
                'image encoder (it does not implement CachesImageFeatures, '
                'or its image encoder is trainable); serving images.',
                logger='current', level=logging.WARNING)
            return
        was_training = model.training
        model.eval()
        try:
            dataset.build_cache(encoder,
                                num_workers=getattr(dataloader,
                                                    'num_workers', 0))
        finally:
            model.train(was_training)


def _set_epoch(dataloader, epoch: int) -> None:
    """Set the epoch of a :class:`CachedFeatureDataset` loader's dataset."""
    dataset = getattr(dataloader, 'dataset', None)
    if isinstance(dataset, CachedFeatureDataset):
        dataset.set_epoch(epoch)
