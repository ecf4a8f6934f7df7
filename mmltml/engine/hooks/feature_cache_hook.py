# Copyright (c) mmltml contributors. All rights reserved.
"""Build the feature caches of :class:`CachedFeatureDataset` loaders."""
import hashlib
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


def encoder_fingerprint(module: torch.nn.Module) -> str:
    """sha1 of every parameter and buffer of ``module`` (names and bytes)."""
    digest = hashlib.sha1()
    for name, tensor in module.state_dict(keep_vars=False).items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(
            torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class FeatureCacheHook(Hook):
    """Fill the feature cache of each :class:`CachedFeatureDataset` loader
    once, with the model's own frozen image encoder, before the loop that
    uses it (``before_train``, ``before_val``, ``before_test``).

    The model's backbone must provide ``encode_image(images)`` and
    ``image_encoder`` (the frozen module, fingerprinted for the disk-cache
    key); images go through the model's ``data_preprocessor`` exactly as in
    an uncached step. The images are loaded by the loader's
    ``num_workers`` workers while the main process encodes them.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Cache the training images' features."""
        self._build(runner, runner.train_dataloader, training=True)

    def before_val(self, runner) -> None:
        """Cache the validation images' features."""
        self._build(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        """Cache the test images' features."""
        self._build(runner, runner.test_dataloader)

    def _build(self, runner, dataloader, training: bool = False) -> None:
        from mmltml.datasets import CachedFeatureDataset
        dataset = getattr(dataloader, 'dataset', None)
        if not isinstance(dataset, CachedFeatureDataset) or dataset.cached:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        encoder = self._frozen_encoder(model)
        if encoder is None:
            return
        was_training = model.training
        model.eval()

        @torch.no_grad()
        def encode(batch: dict) -> torch.Tensor:
            inputs = model.data_preprocessor(batch, False)['inputs']
            return model.backbone.encode_image(inputs)

        def refuse_image_ops() -> None:  # before any image is encoded
            check = getattr(model.data_preprocessor, 'check_feature_batch',
                            None)
            if check is not None:
                check(training)

        dim = model.backbone.feature_dim
        try:
            dataset.build_cache(encode, encoder_fingerprint(encoder), dim,
                                before_caching=refuse_image_ops,
                                num_workers=getattr(dataloader,
                                                    'num_workers', 0))
        finally:
            model.train(was_training)

    @staticmethod
    def _frozen_encoder(model) -> Optional[torch.nn.Module]:
        encoder = getattr(model.backbone, 'image_encoder', None)
        if encoder is None or any(p.requires_grad
                                  for p in encoder.parameters()):
            return None  # only a frozen encoder can be cached exactly
        return encoder
