# Copyright (c) mmltml contributors. All rights reserved.
"""mmengine's ``CheckpointHook`` with atomic checkpoint writes and a run
lock on the work dir."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from mmltml.utils.atomic_file import TEMP_MARK, atomic_path, atomic_write_text
from mmltml.utils.work_dir_lock import acquire_work_dir, release_work_dir


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """A ``CheckpointHook`` whose checkpoints survive kills and full disks.

    mmengine 0.10.7 first deletes the checkpoint that falls out of
    ``max_keep_ckpts``, then writes the new one in place: a kill or a full
    disk during the write leaves a truncated file and a ``last_checkpoint``
    naming a deleted one, and ``--resume`` fails. Here, for checkpoints on
    local disk:

    1. the new checkpoint is written to a temporary file in the same folder,
       flushed to disk and renamed to its name
       (:func:`mmltml.utils.atomic_file.atomic_path`);
    2. then ``last_checkpoint`` is replaced (atomically) to name it;
    3. only then is the checkpoint that falls out of ``max_keep_ckpts``
       removed.

    ``last_checkpoint`` therefore always names a complete file. Temporary
    files of an earlier killed run are removed when training starts.
    Checkpoints on other storage backends are saved as by mmengine.

    The hook also holds the run lock of the work dir from the start of
    training to the end of the run
    (:func:`mmltml.utils.work_dir_lock.acquire_work_dir`): a second
    training run into a work dir in use fails before its first iteration.

    It takes the arguments of mmengine's hook. mmltml's default runtime
    (``configs/_base_/default_runtime.py``) names it:
    ``default_hooks.checkpoint=dict(type='AtomicCheckpointHook', ...)``;
    a config that names ``type='CheckpointHook'`` gets mmengine's own hook
    (checkpoints written in place, no run lock), as without mmltml.
    """

    def before_train(self, runner) -> None:
        """Take the work dir's run lock, then set up as mmengine does and
        remove temporary checkpoint files left by a killed run."""
        note = acquire_work_dir(runner.work_dir, runner.rank)
        if note:
            runner.logger.warning(note)
        super().before_train(runner)
        if self._atomic() and is_main_process():
            name = self.filename_tmpl.replace('{}', '*')
            pattern = osp.join(self.out_dir, f'.{name}{TEMP_MARK}*')
            for stray in glob.glob(pattern):
                os.unlink(stray)

    def after_run(self, runner) -> None:
        """Release the work dir's run lock."""
        release_work_dir(runner.work_dir)

    def _atomic(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = self._rotate(runner, step)
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if not is_main_process():
            return  # rank 0 writes the checkpoint (``save_checkpoint`` is
            # master-only in mmengine)
        with atomic_path(self.last_ckpt) as tmp:
            runner.save_checkpoint(
                self.out_dir,
                osp.basename(tmp),
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None:
            path = osp.join(self.out_dir, self.filename_tmpl.format(outdated))
            if path != self.last_ckpt and osp.isfile(path):
                os.unlink(path)

    def _rotate(self, runner, step):
        """Book ``step`` among the kept checkpoints (as mmengine does);
        return the step whose checkpoint must go once it is saved."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
            return None
        outdated = None
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return outdated
