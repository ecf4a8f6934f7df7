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
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, Tuple

import mmcv
from PIL import Image

#: Callable giving the location of an image for error messages, e.g.
#: ``'data/coco/coco_lt_train.txt, line 12'``.
Locator = Callable[[str], Optional[str]]


class BadImageError(OSError):
    """An image of a dataset is missing or cannot be decoded."""


def find_image_problem(path: str) -> Optional[str]:
    """Return why the image at ``path`` cannot be used, or None if it can.

    Args:
        path (str): Local path of the image.

    Returns:
        str | None: A predicate for ``f'image {path} {problem}'``:
        ``'does not exist'``, ``'is empty'``, ``'cannot be decoded'`` or
        ``'is truncated or corrupt (<Pillow's message>)'``.
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
        return f'cannot be decoded ({type(error).__name__})'
    if decoded is None:
        return 'cannot be decoded'
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except Exception as error:  # Pillow raises several error types
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
