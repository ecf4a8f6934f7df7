# Copyright (c) mmltml contributors. All rights reserved.
"""Write files so that readers only ever see complete ones.

A file is written under a unique temporary name in its own folder, flushed
to disk (``fsync``) and only then renamed to its final name; a crash, a
kill or a full disk during the write leaves the previous file (or none)
and a stray temporary file, never a truncated file under the final name.
Used by the checkpoint hook and the feature cache; the synthetic benchmark
generator (:mod:`mmltml.benchmarks.synthetic`) names its temporary folders
with :func:`temp_path_for`.
"""
import errno
import os
import os.path as osp
import uuid
from contextlib import contextmanager
from typing import Iterator

TEMP_MARK = '.tmp-'


def temp_path_for(path: str) -> str:
    """A unique temporary sibling of ``path`` (hidden, same folder, so the
    rename stays on one file system and never clashes between processes).
    """
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}{TEMP_MARK}{os.getpid()}-'
                    f'{uuid.uuid4().hex[:8]}')


def fsync_file(path: str) -> None:
    """Flush the content of ``path`` to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str) -> None:
    """Flush a folder's entries (a rename) to disk, where supported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _publish_if_absent(tmp: str, path: str) -> bool:
    """Give ``tmp`` the name ``path`` unless ``path`` exists (a hard link
    fails atomically if it does); where links are not supported, a rename.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV,
                               errno.EMLINK):
            raise
        if osp.exists(path):
            return False
        os.replace(tmp, path)
        return True
    os.unlink(tmp)
    return True


@contextmanager
def atomic_path(path: str, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path to write ``path``'s content to; on success
    it is flushed to disk and renamed to ``path``.

    Args:
        path (str): Final path.
        overwrite (bool): Replace an existing ``path``. With False the
            first complete file wins: if ``path`` exists when the write is
            complete, the new file is discarded (concurrent writers of the
            same content, e.g. a shared feature cache).

    Yields:
        str: The temporary path (in ``path``'s folder). If the block raises
        (or writes nothing), the temporary file is removed and ``path`` is
        left as it was.

    Examples:
        >>> with atomic_path('work_dir/epoch_2.pth') as tmp:
        ...     torch.save(state, tmp)
    """
    tmp = temp_path_for(path)
    try:
        yield tmp
        fsync_file(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_if_absent(tmp, path)
        fsync_dir(osp.dirname(osp.abspath(path)))
    finally:
        if osp.lexists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str, text: str) -> None:
    """Replace the content of ``path`` with ``text``, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
