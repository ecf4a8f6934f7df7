# Copyright (c) mmltml contributors. All rights reserved.
"""Epoch-based training that resumes mid-epoch exactly."""
import logging
import random
from typing import Iterator, Sequence

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import LOOPS

from mmltml.datasets import CachedFeatureDataset


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose resumed runs equal uninterrupted ones.

    mmengine 0.10.7's ``EpochBasedTrainLoop`` restores the epoch and the
    iteration counter of a checkpoint but restarts the epoch from its first
    batch: after a checkpoint saved mid-epoch (``CheckpointHook(by_epoch=
    False)``) the batches already trained on are trained on again and the
    run makes more iterations than planned (the sampler itself reproduces
    the epoch's order, as it is seeded by ``seed + epoch``). It also does
    not restore the random number generators, so random augmentations
    drawn from them differ from an uninterrupted run even when resuming at
    an epoch end.

    This loop, with the same arguments as ``EpochBasedTrainLoop``:

    - skips the batches of the resumed epoch that the checkpoint has
      already trained on (they are fetched and discarded, so data-loader
      workers draw the same random numbers as in the uninterrupted run;
      with cached features this costs next to nothing);
    - seeds Python's ``random``, NumPy's global generator and torch's
      generators from ``(runner.seed, rank, iteration)`` before each
      training batch is fetched. The random numbers of iteration ``i``
      then depend only on the seed, the rank and ``i``, never on what ran
      before, so a resumed run draws exactly what the uninterrupted run
      drew. Each rank draws its own numbers. (This also makes a run that
      builds a feature cache, drawing random numbers while encoding, and a
      run that loads it from ``cache_dir`` train identically.)

    A checkpoint that an iteration-based ``CheckpointHook`` saved after the
    last batch of an epoch resumes with that epoch's end (its
    ``after_train_epoch`` hooks and validation), where mmengine's loop
    would train the whole epoch again.

    The per-iteration seeding reaches the main process only. Random
    transforms drawn in data-loader workers are exact in these cases:

    - ``num_workers=0``: the transforms run in the main process;
    - workers that are not persistent: mmengine's ``worker_init_fn`` seeds
      each worker from ``(seed, rank, worker id)`` when the epoch's
      iterator starts them, and the skipped batches are fetched by the
      workers, so each worker draws the same numbers for the same batches
      as in the uninterrupted run (measured: bitwise equal weights with two
      workers and ``RandomFlip``, ``test_mid_epoch_resume_with_workers``).

    Persistent workers (``persistent_workers=True``, which
    ``tools/train.py`` sets for training loaders with workers unless
    ``--no-persistent-workers``) are seeded once per run and carry their
    random state from epoch to epoch; a checkpoint cannot hold that state,
    so after a resume (mid-epoch or at an epoch end) random transforms of
    an image pipeline drawn in them (from the global generators) differ
    from the uninterrupted run (measured: the weights differ); a mid-epoch
    resume with them logs a warning. Runs whose workers draw no random
    numbers from the global generators are exact either way, among them
    :class:`~mmltml.datasets.CachedFeatureDataset` with an exact pipeline,
    which draws its flips from ``(seed, epoch, index)`` (measured:
    ``test_resume_with_persistent_workers_lmpt``; no warning then).

    Use it with ``train_cfg = dict(type='ResumableEpochBasedTrainLoop',
    max_epochs=..., val_interval=...)`` (mmengine rejects ``by_epoch``
    together with ``type``; a child of a config that sets ``by_epoch``
    needs ``_delete_=True``).
    """

    def run_epoch(self) -> None:
        """Iterate one epoch, or the rest of a resumed one."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start = self._batches_done()
        if start == len(self.dataloader):
            # saved after the epoch's last batch, before its end hooks
            batches = iter(())
        else:
            batches = iter(self.dataloader)
            self._skip(batches, start)
        for idx, data_batch in enumerate(self._seeded(batches), start):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _batches_done(self) -> int:
        """Batches of the current epoch trained before the checkpoint."""
        per_epoch = len(self.dataloader)
        done = self._iter - self._epoch * per_epoch
        if not 0 <= done <= per_epoch:
            raise RuntimeError(
                f'Cannot resume: the checkpoint is at iteration {self._iter} '
                f'of epoch {self._epoch + 1}, which does not fit '
                f'{per_epoch} iterations per epoch. The batch size, the '
                'number of processes or the dataset differ from the run '
                'that saved it.')
        return done

    def _skip(self, batches: Iterator, count: int) -> None:
        """Fetch and discard ``count`` batches of ``batches``."""
        if not count:
            return
        print_log(
            f'Resuming epoch {self._epoch + 1} after batch {count}/'
            f'{len(self.dataloader)}: skipping the {count} batches already '
            'trained on.',
            logger='current')
        if (self.dataloader.num_workers > 0
                and self.dataloader.persistent_workers
                and not self._draws_seeded_flips()):
            print_log(
                'persistent_workers=True: the random state of the data '
                'workers cannot be restored, so random transforms drawn '
                'from their global generators (image pipelines) may differ '
                'from an uninterrupted run in the rest of this run.',
                logger='current',
                level=logging.WARNING)
        for _ in range(count):
            next(batches)

    def _draws_seeded_flips(self) -> bool:
        """Whether the workers draw no global random numbers: a
        :class:`CachedFeatureDataset` with an exact pipeline draws its flips
        from ``(seed, epoch, index)``, cached features or images."""
        dataset = self.dataloader.dataset
        return isinstance(dataset, CachedFeatureDataset) and dataset.exact

    def _seeded(self, batches: Iterator) -> Iterator[Sequence[dict]]:
        """Yield the batches, seeding the generators before each fetch."""
        while True:
            self._seed_iteration()
            try:
                batch = next(batches)
            except StopIteration:
                return
            yield batch

    def _seed_iteration(self) -> None:
        rank, _ = get_dist_info()
        entropy = [int(self.runner.seed), rank, self._iter]
        seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
