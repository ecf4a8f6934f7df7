# Copyright (c) mmltml contributors. All rights reserved.
"""Serve a frozen image encoder's outputs instead of images, exactly."""
import copy
import hashlib
import json
import logging
import os
import os.path as osp
import time
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, Compose, default_collate
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from mmltml.utils.atomic_file import atomic_path
from .image_check import apply_pipeline

#: Transforms whose output is a deterministic function of the image (plus
#: a horizontal flip, cached both ways): with only these, serving cached
#: features is exact.
DETERMINISTIC_TRANSFORMS = ('LoadImageFromFile', 'Resize', 'ResizeEdge',
                            'CenterCrop', 'PackInputs')
FLIP = 'RandomFlip'
EncodeFn = Callable[[dict], torch.Tensor]


@DATASETS.register_module()
class CachedFeatureDataset:
    """A dataset wrapper that yields cached image features when exact.

    With a frozen image encoder, an image's features depend only on the
    image and the deterministic part of the pipeline. When the wrapped
    dataset's pipeline consists of :data:`DETERMINISTIC_TRANSFORMS` and at
    most a horizontal ``RandomFlip``, :class:`FeatureCacheHook` runs the
    model's encoder once over every image (and its mirror image) and this
    wrapper then yields ``inputs`` = the feature vector of the original or,
    with the pipeline's flip probability, the flipped image: the same
    distribution of model inputs as the image pipeline, without decoding
    or encoding any image. Labels, captions and meta information come from
    the wrapped dataset's ``PackInputs`` as before.

    Any other pipeline (random crops, colour jitter, ...) is served
    uncached, with a warning. Until the cache is built (or with
    ``enable=False``) the wrapper behaves as the wrapped dataset.

    Args:
        dataset: the wrapped dataset or its config.
        enable: switch caching on or off.
        cache_dir: optional folder for a disk copy of the features, named
            by a key of the model weights, the pipeline and the image list
            (a different model, checkpoint or pipeline never reuses it).
        max_memory_mb: do not cache if the features would need more.
        batch_size: images per encoder call while building the cache.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 enable: bool = True,
                 cache_dir: Optional[str] = None,
                 max_memory_mb: float = 4096,
                 batch_size: int = 64) -> None:
        self.dataset = (DATASETS.build(dataset)
                        if isinstance(dataset, dict) else dataset)
        self.cache_dir = cache_dir
        self.max_memory_mb = max_memory_mb
        self.batch_size = batch_size
        self.features: Optional[torch.Tensor] = None  # [N, views, E]
        self.flip_prob = 0.0
        self.enable = enable and self._pipeline_is_exact()

    # -- plain dataset interface ------------------------------------------
    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information."""
        return self.dataset.metainfo

    @property
    def pipeline(self) -> Compose:
        """The wrapped dataset's image pipeline (what tools such as
        mmpretrain's ``browse_dataset.py`` show, and replace)."""
        return self.dataset.pipeline

    @pipeline.setter
    def pipeline(self, pipeline: Compose) -> None:
        self.dataset.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.dataset)

    def get_cat_ids(self, idx: int) -> List[int]:
        """Class ids of image ``idx`` (for samplers)."""
        return self.dataset.get_cat_ids(idx)

    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's annotation of image ``idx``."""
        return self.dataset.get_data_info(idx)

    def full_init(self) -> None:
        """Load the wrapped dataset's annotations."""
        self.dataset.full_init()

    @property
    def cached(self) -> bool:
        """Whether features are served (the cache is built)."""
        return self.features is not None

    def __getitem__(self, idx: int) -> dict:
        if not self.cached:
            return self.dataset[idx]
        flip = self.features.shape[1] == 2 and \
            np.random.rand() < self.flip_prob
        packed = self._pack(self.dataset.get_data_info(idx))
        packed['inputs'] = self.features[idx, int(flip)]
        packed['data_samples'].set_metainfo(dict(flip=bool(flip)))
        return packed

    # -- the cache ---------------------------------------------------------
    def _transforms(self) -> list:
        return list(self.dataset.pipeline.transforms)

    def _pipeline_is_exact(self) -> bool:
        for transform in self._transforms():
            name = type(transform).__name__
            if name == FLIP and transform.direction == 'horizontal':
                self.flip_prob = float(transform.prob)
            elif name not in DETERMINISTIC_TRANSFORMS:
                print_log(
                    f'CachedFeatureDataset: {name} is random, so cached '
                    'features would not be exact; serving images.',
                    logger='current', level=logging.WARNING)
                return False
        return True

    def _pack(self, results: dict) -> dict:
        pack = self._transforms()[-1]
        return pack(copy.deepcopy(results))

    def _view_pipeline(self, flip: bool) -> Compose:
        transforms = []
        for transform in self._transforms():
            if type(transform).__name__ == FLIP:
                transform = copy.copy(transform)
                transform.prob = 1.0 if flip else 0.0
            transforms.append(transform)
        return Compose(transforms)

    def cache_key(self, encoder_key: str) -> str:
        """Key of (encoder weights, pipeline, image list)."""
        paths = [self.dataset.get_data_info(i)['img_path']
                 for i in range(len(self))]
        stats = [(p, osp.getsize(p), osp.getmtime(p)) if osp.exists(p)
                 else (p, ) for p in paths]
        content = json.dumps([encoder_key, repr(self.dataset.pipeline),
                              self.flip_prob, stats], default=str)
        return hashlib.sha1(content.encode()).hexdigest()[:16]

    def build_cache(self,
                    encode: EncodeFn,
                    encoder_key: str,
                    feature_dim: int,
                    before_caching: Optional[Callable[[], None]] = None
                    ) -> bool:
        """Fill the cache with ``encode`` (collated batch -> [B, E]).

        In distributed runs each rank encodes a shard and the shards are
        gathered, so every rank holds all features. ``before_caching`` runs
        once it is certain that features will be served (e.g. to refuse a
        setting that cannot use them before the images are encoded).
        Returns whether the cache is in use.
        """
        if not self.enable or self.cached:
            return self.cached
        views = 2 if self.flip_prob > 0 else 1
        size_mb = len(self) * views * feature_dim * 4 / 2**20
        if size_mb > self.max_memory_mb:
            print_log(f'CachedFeatureDataset: {size_mb:.0f} MB of features '
                      f'exceed max_memory_mb={self.max_memory_mb}; serving '
                      'images.', logger='current', level=logging.WARNING)
            return False
        if before_caching is not None:
            before_caching()
        path = None
        if self.cache_dir:
            path = osp.join(self.cache_dir,
                            f'features_{self.cache_key(encoder_key)}.pt')
            self.features = self._load(path, (len(self), views, feature_dim))
            if self.cached:
                return True
            bad_file = osp.isfile(path)
        start = time.perf_counter()
        self.features = torch.stack([
            self._encode_view(encode, flip, feature_dim)
            for flip in range(views)
        ], 1)
        print_log(
            f'Cached {views} view(s) of {len(self)} images '
            f'({size_mb:.1f} MB) in {time.perf_counter() - start:.1f} s',
            logger='current')
        rank, _ = get_dist_info()
        if path is not None and rank == 0:
            os.makedirs(self.cache_dir, exist_ok=True)
            # runs sharing cache_dir may write it at the same time: a unique
            # temporary file, renamed when complete; the first complete
            # file wins (a bad file found above is replaced)
            with atomic_path(path, overwrite=bad_file) as tmp:
                torch.save(self.features, tmp)
        return True

    @staticmethod
    def _load(path: str, shape: tuple) -> Optional[torch.Tensor]:
        """The disk cache at ``path``, or None (with a warning) when it is
        missing, unreadable or of another shape: it is then rebuilt."""
        if not osp.isfile(path):
            return None
        try:
            features = torch.load(path, weights_only=True)
        except Exception as error:  # any unpickling / zip error
            problem = f'cannot be read ({type(error).__name__}: {error})'
        else:
            if isinstance(features, torch.Tensor) and \
                    tuple(features.shape) == shape:
                print_log(f'Loaded cached features {path}', logger='current')
                return features
            found = tuple(getattr(features, 'shape', ())) or \
                type(features).__name__
            problem = f'holds {found}, expected shape {shape}'
        print_log(f'CachedFeatureDataset: the feature cache {path} {problem}; '
                  'rebuilding it.', logger='current', level=logging.WARNING)
        return None

    def _encode_view(self, encode: EncodeFn, flip: bool,
                     feature_dim: int) -> torch.Tensor:
        rank, world_size = get_dist_info()
        pipeline = self._view_pipeline(bool(flip))
        locate = getattr(self.dataset, 'locate_image', None)
        indices = list(range(rank, len(self), world_size))
        feats = []
        for start in range(0, len(indices), self.batch_size):
            batch = [apply_pipeline(pipeline, self.dataset.get_data_info(i),
                                    locate)
                     for i in indices[start:start + self.batch_size]]
            feats.append(encode(default_collate(batch)).float().cpu())
        local = torch.cat(feats) if feats else torch.zeros(
            0, feature_dim)  # a rank with no images
        shards = all_gather_object(local) if world_size > 1 else [local]
        return _interleave(shards, len(self))


def _interleave(shards: Sequence[torch.Tensor], total: int) -> torch.Tensor:
    """Undo the ``rank::world_size`` sharding."""
    out = torch.empty(total, shards[0].shape[1])
    for rank, shard in enumerate(shards):
        out[rank::len(shards)] = shard
    return out
