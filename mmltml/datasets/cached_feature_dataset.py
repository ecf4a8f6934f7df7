# Copyright (c) mmltml contributors. All rights reserved.
"""Serve a frozen image encoder's outputs instead of images, exactly."""
import copy
import errno
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import time
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, Compose, default_collate
from mmengine.dist import all_gather_object, get_dist_info, sync_random_seed
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from mmltml.structures.frozen_image_encoder import (IMAGE_FEATS,
                                                    FrozenImageEncoder)
from mmltml.utils.atomic_file import atomic_path
from .image_check import apply_pipeline

#: Default of ``deterministic_transforms``: transforms whose output is a
#: deterministic function of the image.
DETERMINISTIC_TRANSFORMS = ('LoadImageFromFile', 'Resize', 'ResizeEdge',
                            'CenterCrop', 'PackInputs')
FLIP = 'RandomFlip'
#: The epoch of a wrapper whose :meth:`CachedFeatureDataset.set_epoch` was
#: never called.
NO_EPOCH = -1
EncodeFn = Callable[[dict], torch.Tensor]


@DATASETS.register_module()
class CachedFeatureDataset:
    """A dataset wrapper that yields cached image features when exact.

    With a frozen image encoder, an image's features depend only on the
    image and the deterministic part of the pipeline. **Exactness rule**:
    when every transform of the wrapped dataset's pipeline is named in
    ``deterministic_transforms``, except at most one horizontal
    ``RandomFlip``, the model's encoder is run once over every image (and
    its mirror image, :meth:`build_cache`, called by
    :class:`FeatureCacheHook`) and this wrapper then yields
    ``inputs=dict(image_feats=<Tensor [E]>)``: the features of the original
    or, with the pipeline's flip probability, of the flipped image. That is
    the same distribution of model inputs as the image pipeline, without
    decoding or encoding any image. Labels, captions and meta information
    come from the wrapped dataset's ``PackInputs`` as before; each data
    sample's ``flip`` tells the view. Until the cache is built (or with
    ``enable=False``, or when the features would exceed ``max_memory_mb``)
    the wrapper serves the images, flipped by the same draws as the
    features would be: cached or not, a run sees the same inputs. Any other
    pipeline (random crops, colour jitter, ...) is served uncached by the
    wrapped dataset as it is, with a warning.

    The flips are drawn per sample from a generator seeded by ``(seed,
    epoch, index)`` (the epoch is set by :meth:`set_epoch`, as for a
    sampler): they depend neither on the number of data-loader workers nor
    on what ran before, so a run resumed from a checkpoint draws the flips
    of the uninterrupted run, persistent workers included (the epoch is
    kept in shared memory, which workers read). A wrapper whose pipeline
    flips serves nothing until its epoch is set: in a run,
    :class:`FeatureCacheHook` (in ``custom_hooks``) sets it before each
    training epoch and builds the cache; without the hook every epoch
    would draw the flips of epoch 0 and nothing would be cached, so the
    first sample served raises an error that says what to add to the
    config (whichever runner, loop or tool iterates it).

    Args:
        dataset: the wrapped dataset or its config.
        enable: switch caching on or off.
        cache_dir: optional folder for a disk copy of the features, named
            by a key of the encoder (its fingerprint), the pipeline and the
            image list (a different model, checkpoint or pipeline never
            reuses it).
        max_memory_mb: do not cache if the features would need more.
        batch_size: images per encoder call while building the cache (the
            images are loaded by the loader's ``num_workers`` workers, see
            :meth:`build_cache`).
        deterministic_transforms: names of the transforms whose output is
            a deterministic function of the image (the exactness rule
            above). Defaults to :data:`DETERMINISTIC_TRANSFORMS`.
        seed: seed of the flips; ``None`` draws one shared by all ranks
            (``mmengine.dist.sync_random_seed``, as mmengine's
            ``DefaultSampler`` does).
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 enable: bool = True,
                 cache_dir: Optional[str] = None,
                 max_memory_mb: float = 4096,
                 batch_size: int = 64,
                 deterministic_transforms: Sequence[
                     str] = DETERMINISTIC_TRANSFORMS,
                 seed: Optional[int] = None) -> None:
        self.dataset = (DATASETS.build(dataset)
                        if isinstance(dataset, dict) else dataset)
        self.cache_dir = cache_dir
        self.max_memory_mb = max_memory_mb
        self.batch_size = batch_size
        self.deterministic_transforms = tuple(deterministic_transforms)
        self.seed = sync_random_seed() if seed is None else int(seed)
        # shared with the data-loader workers, persistent ones included
        self._epoch = torch.full((), NO_EPOCH,
                                 dtype=torch.int64).share_memory_()
        self.features: Optional[torch.Tensor] = None  # [N, views, E]
        self.exact = self._pipeline_is_exact()
        self.enable = enable and self.exact
        # the pipeline with the flip decided: (unflipped, flipped)
        self._views = (self._view_pipeline(False), self._view_pipeline(True))

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
        """Replace the pipeline; from then on the wrapper serves the
        wrapped dataset as it is (images through ``pipeline``, uncached)."""
        self.dataset.pipeline = pipeline
        self.exact = self.enable = False
        self.features = None

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

    @property
    def epoch(self) -> int:
        """The epoch whose flips are drawn (:data:`NO_EPOCH` until
        :meth:`set_epoch` is called)."""
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Draw the flips of ``epoch`` from now on (also in the data-loader
        workers already started)."""
        self._epoch.fill_(epoch)

    def draws_flip(self, idx: int) -> bool:
        """Whether sample ``idx`` is served flipped in this epoch."""
        if self.flip_prob <= 0:
            return False
        epoch = self.epoch
        if epoch == NO_EPOCH:
            raise RuntimeError(self._no_epoch_message())
        rng = np.random.default_rng((self.seed, epoch, idx))
        return bool(rng.random() < self.flip_prob)

    def _no_epoch_message(self) -> str:
        source = getattr(self.dataset, 'ann_file', '') or type(
            self.dataset).__name__
        return (
            f'CachedFeatureDataset ({source}) draws its flips per epoch, '
            "but its epoch was never set. Add dict(type='FeatureCacheHook') "
            'to custom_hooks of the config: it sets the epoch before each '
            'training epoch and builds the feature cache (without it every '
            'epoch would draw the flips of epoch 0 and nothing would be '
            'cached; a child config that sets custom_hooks replaces the '
            'list of its base, this hook included). Iterating the dataset '
            'yourself, call set_epoch(epoch) first.')

    def __getitem__(self, idx: int) -> dict:
        if not self.exact:
            return self.dataset[idx]
        flip = self.draws_flip(idx)
        if not self.cached:
            return self._image_view(idx, flip)
        packed = self._pack(self.dataset.get_data_info(idx))
        packed['inputs'] = {IMAGE_FEATS: self.features[idx, int(flip)]}
        packed['data_samples'].set_metainfo(dict(flip=flip))
        return packed

    def _image_view(self, idx: int, flip: bool) -> dict:
        """Image ``idx`` through the pipeline with the flip decided."""
        info = self.dataset.get_data_info(idx)
        packed = apply_pipeline(self._views[flip], info,
                                getattr(self.dataset, 'locate_image', None))
        if packed is None:
            raise RuntimeError(f'CachedFeatureDataset: the pipeline dropped '
                               f'image {idx} ({info.get("img_path")}).')
        return packed

    # -- the cache ---------------------------------------------------------
    def _transforms(self) -> list:
        return list(self.dataset.pipeline.transforms)

    def _pipeline_is_exact(self) -> bool:
        self.flip_prob = 0.0
        for transform in self._transforms():
            name = type(transform).__name__
            if name == FLIP and transform.direction == 'horizontal':
                self.flip_prob = float(transform.prob)
            elif name not in self.deterministic_transforms:
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
        """Key of (encoder fingerprint, pipeline, image list)."""
        paths = [self.dataset.get_data_info(i)['img_path']
                 for i in range(len(self))]
        stats = [(p, osp.getsize(p), osp.getmtime(p)) if osp.exists(p)
                 else (p, ) for p in paths]
        content = json.dumps([encoder_key, repr(self.dataset.pipeline),
                              self.flip_prob, stats], default=str)
        return hashlib.sha1(content.encode()).hexdigest()[:16]

    def build_cache(self,
                    encoder: FrozenImageEncoder,
                    num_workers: int = 0) -> bool:
        """Fill the cache with ``encoder`` (collated batch -> [B, E]).

        Images are loaded by ``num_workers`` DataLoader workers (the
        wrapped dataset's pipeline runs in the workers) while the main
        process encodes; progress and images/s are logged. In distributed
        runs each rank encodes a shard and the shards are gathered, so every
        rank holds all features. With a ``cache_dir`` the features are
        loaded from (or saved to) a file named by the encoder's
        fingerprint. Returns whether the cache is in use.
        """
        if not self.enable or self.cached:
            return self.cached
        views = 2 if self.flip_prob > 0 else 1
        dim = encoder.feature_dim
        size_mb = len(self) * views * dim * 4 / 2**20
        if size_mb > self.max_memory_mb:
            print_log(f'CachedFeatureDataset: {size_mb:.0f} MB of features '
                      f'exceed max_memory_mb={self.max_memory_mb}; serving '
                      'images.', logger='current', level=logging.WARNING)
            return False
        path = None
        if self.cache_dir:
            path = osp.join(self.cache_dir,
                            f'features_{self.cache_key(encoder.fingerprint())}'
                            '.pt')
            self.features = self._load(path, (len(self), views, dim))
            if self.cached:
                return True
            bad_file = osp.isfile(path)
        start = time.perf_counter()
        self.features = torch.stack([
            self._encode_view(encoder.encode, flip, dim, num_workers,
                              f'view {flip + 1}/{views}')
            for flip in range(views)
        ], 1)
        seconds = time.perf_counter() - start
        print_log(
            f'Cached {views} view(s) of {len(self)} images '
            f'({size_mb:.1f} MB) in {seconds:.1f} s '
            f'({len(self) * views / max(seconds, 1e-9):.1f} images/s, '
            f'{num_workers} loading workers)', logger='current')
        rank, _ = get_dist_info()
        if path is not None and rank == 0:
            self._save(path, overwrite=bad_file)
        return True

    def _save(self, path: str, overwrite: bool) -> None:
        """Write the disk copy of the features.

        Runs sharing ``cache_dir`` may write it at the same time: a unique
        temporary file, renamed when complete; the first complete file
        wins (``overwrite`` replaces a bad file found before). A write that
        fails (a full disk, no permission) leaves no file and is logged,
        naming the file and the free space: the features are in memory, so
        the run goes on, and only the next run has to encode them again.
        """
        needed = self.features.numel() * self.features.element_size()
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            free = shutil.disk_usage(self.cache_dir).free
            if free < needed + 2**20:  # torch.save's container: < 1 MB
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            with atomic_path(path, overwrite=overwrite) as tmp:
                torch.save(self.features, tmp)
        except (OSError, RuntimeError) as error:  # torch: "unexpected pos"
            print_log(
                f'CachedFeatureDataset: the feature cache {path} was not '
                f'written ({type(error).__name__}: {error}; '
                f'{_free_space(self.cache_dir)} free, {_size(needed)} '
                'needed). This run goes on with the features in memory; '
                'free space there or choose another cache_dir to keep '
                'them for the next run.',
                logger='current', level=logging.WARNING)

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
            problem = _cache_problem(features, shape)
            if problem is None:
                print_log(f'Loaded cached features {path}', logger='current')
                return features
        print_log(f'CachedFeatureDataset: the feature cache {path} {problem}; '
                  'rebuilding it.', logger='current', level=logging.WARNING)
        return None

    def _encode_view(self,
                     encode: EncodeFn,
                     flip: bool,
                     feature_dim: int,
                     num_workers: int = 0,
                     what: str = 'view 1/1') -> torch.Tensor:
        """Features of this rank's ``rank::world_size`` shard of one view,
        gathered from all ranks into dataset order."""
        rank, world_size = get_dist_info()
        indices = list(range(rank, len(self), world_size))
        loader = DataLoader(
            _ViewImages(self, bool(flip)),
            batch_size=self.batch_size,
            sampler=indices,  # in order: batches as in the serial build
            num_workers=num_workers,
            collate_fn=default_collate)
        progress = _Progress(len(indices), f'Caching features ({what})')
        feats = []
        for batch in loader:
            feats.append(encode(batch).float().cpu())
            _check_finite(feats[-1], batch, what)
            progress.update(len(feats[-1]))
        local = torch.cat(feats) if feats else torch.zeros(
            0, feature_dim)  # a rank with no images
        shards = all_gather_object(local) if world_size > 1 else [local]
        return _interleave(shards, len(self))


class _ViewImages(TorchDataset):
    """The wrapper's images of one view, as :meth:`CachedFeatureDataset.
    _image_view` serves them (run in the DataLoader workers; unreadable
    images are blamed by file and line)."""

    def __init__(self, wrapper: CachedFeatureDataset, flip: bool) -> None:
        self.wrapper = wrapper
        self.flip = flip

    def __len__(self) -> int:
        return len(self.wrapper)

    def __getitem__(self, idx: int) -> dict:
        return self.wrapper._image_view(idx, self.flip)


class _Progress:
    """Log ``done/total images, images/s, ETA`` about every tenth of the
    work (and at the end)."""

    def __init__(self, total: int, what: str, steps: int = 10) -> None:
        self.total, self.what = total, what
        self.every = max(1, -(-total // steps))
        self.done, self.next = 0, self.every
        self.start = time.perf_counter()

    def update(self, count: int) -> None:
        """Count ``count`` more images; log when a step is passed."""
        self.done += count
        if self.done < min(self.next, self.total):
            return
        self.next = (self.done // self.every + 1) * self.every
        seconds = time.perf_counter() - self.start
        rate = self.done / max(seconds, 1e-9)
        print_log(f'{self.what}: {self.done}/{self.total} images, '
                  f'{rate:.1f} images/s, ETA '
                  f'{(self.total - self.done) / max(rate, 1e-9):.0f} s',
                  logger='current')


def _cache_problem(features, shape: tuple) -> Optional[str]:
    """Why a loaded disk cache cannot be used, or None."""
    if not isinstance(features, torch.Tensor) or \
            tuple(features.shape) != shape:
        found = tuple(getattr(features, 'shape', ())) or \
            type(features).__name__
        return f'holds {found}, expected shape {shape}'
    bad = (~torch.isfinite(features)).flatten(1).any(1)
    if bad.any():
        return (f'holds NaN or inf features of {int(bad.sum())} of '
                f'{len(features)} images')
    return None


def _check_finite(feats: torch.Tensor, batch: dict, what: str) -> None:
    """Refuse NaN / inf features from the encoder, naming the images."""
    bad = (~torch.isfinite(feats)).any(1).nonzero().flatten().tolist()
    if not bad:
        return
    samples = batch.get('data_samples') or []
    paths = [samples[i].metainfo.get('img_path', f'batch item {i}')
             if i < len(samples) else f'batch item {i}' for i in bad]
    more = f' and {len(paths) - 5} more' if len(paths) > 5 else ''
    raise ValueError(
        f'CachedFeatureDataset: the frozen image encoder gave NaN or inf '
        f'features ({what}) for {len(bad)} of the {len(feats)} images of a '
        f'batch: {", ".join(map(str, paths[:5]))}{more}. Nothing was '
        'cached. Check the encoder weights (clip_pretrained) when every '
        'image is affected, else these images.')


def _size(num_bytes: int) -> str:
    if num_bytes < 2**20:
        return f'{num_bytes / 2**10:.0f} KB'
    return f'{num_bytes / 2**20:.1f} MB'


def _free_space(folder: str) -> str:
    try:
        return _size(shutil.disk_usage(folder).free)
    except OSError:
        return 'unknown space'


def _interleave(shards: Sequence[torch.Tensor], total: int) -> torch.Tensor:
    """Undo the ``rank::world_size`` sharding."""
    out = torch.empty(total, shards[0].shape[1])
    for rank, shard in enumerate(shards):
        out[rank::len(shards)] = shard
    return out
