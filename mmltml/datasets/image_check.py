# Copyright (c) mmltml contributors. All rights reserved.
"""Diagnose unreadable images and report them by file (and list line).

mmcv's ``LoadImageFromFile`` fails on a missing or undecodable image with a
bare ``FileNotFoundError`` / ``AssertionError`` (or returns ``None`` with
``ignore_empty=True``, which mmengine's ``BaseDataset`` then answers by
silently fetching another random image). The helpers here turn such
failures into a :class:`BadImageError` that names the image and, where the
caller can say, the line of the list file it comes from.

:func:`find_image_problem` is the single definition of a readable image,
used by ``LTMultiLabelDataset(on_bad_image='skip')`` and
``tools/misc/check_dataset.py``: the file exists, is not empty, is decoded
by OpenCV (mmcv's default backend, as in the pipelines) and by Pillow with
truncation checks on (OpenCV may accept a truncated JPEG and return a
partly grey image).
"""
import io
import os.path as osp
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, Tuple

import mmcv
from PIL import Image

#: Callable giving the location of an image for error messages, e.g.
#: ``'data/coco/coco_lt_train.txt, line 12'``.
Locator = Callable[[str], Optional[str]]


class BadImageError(OSError):
    """An image of a dataset is missing or cannot be decoded."""


def image_size(path: str) -> Optional[Tuple[int, int]]:
    """``(width, height)`` of an image from its header (nothing is
    decoded, so this is cheap also for huge images); None when the file
    cannot be opened as an image."""
    try:
        with warnings.catch_warnings():  # DecompressionBombWarning
            warnings.simplefilter('ignore')
            with Image.open(path) as image:
                return image.size
    except Exception:  # missing, empty, not an image
        return None


def describe_size(size: Optional[Tuple[int, int]]) -> str:
    """``'10000 x 10000 px, 286 MB decoded'`` (3 bytes a pixel; the
    memory from 1 MB on)."""
    if size is None:
        return 'size unknown'
    width, height = size
    megabytes = width * height * 3 / 2**20
    memory = f', {megabytes:.0f} MB decoded' if megabytes >= 1 else ''
    return f'{width} x {height} px{memory}'



def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (Python's
    ``MemoryError``, OpenCV's ``Insufficient memory``, torch's
    ``DefaultCPUAllocator: can't allocate memory`` / CUDA out of
    memory)."""
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(
        mark in text for mark in ('insufficient memory', 'out of memory',
                                  "can't allocate memory",
                                  'failed to allocate'))


def _too_large(path: str, error: BaseException) -> str:
    return (f'is too large to decode in the available memory '
            f'({describe_size(image_size(path))}: {type(error).__name__}'
            f': {str(error).strip().splitlines()[-1]}); downscale it or '
            'give the process more memory')


def find_image_problem(path: str) -> Optional[str]:
    """Return why the image at ``path`` cannot be used, or None if it can.

    Args:
        path (str): Local path of the image.

    Returns:
        str | None: A predicate for ``f'image {path} {problem}'``:
        ``'does not exist'``, ``'is empty'``, ``'cannot be decoded'``,
        ``'is truncated or corrupt (<Pillow's message>)'`` or, when the
        decoded image does not fit in memory, ``'is too large to decode in
        the available memory (<width> x <height> px, ...)'``.
    """
    if not osp.isfile(path):
        return 'does not exist'
    with open(path, 'rb') as f:
        content = f.read()
    if not content:
        return 'is empty'
    try:
        decoded = mmcv.imfrombytes(content, flag='color', backend='cv2')
    except Exception as error:  # OpenCV raises cv2.error on some inputs
        if is_out_of_memory(error):
            return _too_large(path, error)
        return f'cannot be decoded ({type(error).__name__})'
    if decoded is None:
        return 'cannot be decoded'
    del decoded
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except Exception as error:  # Pillow raises several error types
        if is_out_of_memory(error):
            return _too_large(path, error)
        return f'is truncated or corrupt ({error})'
    return None


def iter_image_problems(
        paths: Iterable[str],
        num_threads: int = 4) -> Iterator[Tuple[str, Optional[str]]]:
    """Check images in parallel threads, yielding ``(path, problem)`` in the
    order of ``paths`` (decoding releases the GIL)."""
    with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
        paths = list(paths)
        yield from zip(paths, pool.map(find_image_problem, paths))


def apply_pipeline(pipeline: Callable[[dict], Optional[dict]],
                   data_info: dict,
                   locate: Optional[Locator] = None) -> Optional[dict]:
    """Run ``pipeline`` on ``data_info``, blaming unreadable images clearly.

    When the pipeline raises, or returns None, and the image of
    ``data_info['img_path']`` is missing or undecodable, a
    :class:`BadImageError` naming the image (and its location from
    ``locate``) is raised from the original error. Any other failure is
    left as it is: the exception propagates and None is returned.

    Args:
        pipeline (Callable): The data pipeline.
        data_info (dict): The data information of one sample (the
            pipeline may modify it in place).
        locate (Callable, optional): Maps the image path to its location,
            e.g. the list file and line.

    Returns:
        dict | None: The pipeline's result.
    """
    img_path = data_info.get('img_path')
    try:
        results = pipeline(data_info)
    except Exception as error:
        _raise_if_unreadable(img_path, locate, error)
        raise
    if results is None:
        _raise_if_unreadable(img_path, locate, None)
    return results


def _raise_if_unreadable(img_path: Optional[str], locate: Optional[Locator],
                         error: Optional[Exception]) -> None:
    if not isinstance(img_path, str):
        return
    problem = find_image_problem(img_path)
    if problem is None:
        return
    where = locate(img_path) if locate is not None else None
    prefix = f'{where}: ' if where else ''
    raise BadImageError(
        f'{prefix}image {img_path} {problem} (tools/misc/check_dataset.py '
        'lists every unreadable image of a config)') from error
