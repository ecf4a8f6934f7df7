# Copyright (c) mmltml contributors. All rights reserved.
"""The one reader of the text files of a dataset: list and caption files.

A *list file* has one ``<relative image path> <label ids...>`` line per
image; a *caption file* one ``<relative image path> <caption text>`` line.
The datasets, the class statistics and ``tools/misc/check_dataset.py`` all
read them here, so the checker refuses exactly what a run refuses:

- a missing or empty list file (no image line);
- a label id that is not a non-negative integer, is out of range or is
  repeated on its line;
- the same image twice, also when written differently
  (``./train/x.png`` and ``train/x.png``: paths are compared after
  ``os.path.normpath``);
- an image without labels, unless unlabelled images are allowed (test
  sets);
- a caption line without text, or a second caption for an image.

Tolerated: a UTF-8 byte-order mark (files saved on Windows), CRLF line
ends, trailing spaces, blank lines, a missing final newline. A byte that is
not UTF-8 is an error naming the file and line (label files are read with
the same :func:`iter_text_lines`).

Every error names the file and the line. Readers raise ``ValueError`` on
the first one; given ``on_error``, they report each one to it, leave the
faulty line out (or, for bad label ids, yield it with ``ids=None``) and go
on, for a checker that lists every problem. Framework-free: plain Python.
"""
import os.path as osp
from typing import (Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Tuple)

#: Encoding of every text file of a dataset: UTF-8, with an optional BOM.
ENCODING = 'utf-8-sig'

ErrorFn = Callable[[str], None]


class ListEntry(NamedTuple):
    """One image line of a list file."""
    lineno: int  #: 1-based line number
    path: str  #: image path as written in the file
    ids: Optional[List[int]]  #: sorted class ids; None if invalid


class CaptionEntry(NamedTuple):
    """One line of a caption file."""
    lineno: int
    path: str  #: image path as written in the file
    key: str  #: normalised image path (see :func:`image_key`)
    caption: str


def image_key(path: str) -> str:
    """The form of an image path two lines are compared in."""
    return osp.normpath(path)


def _raise(message: str) -> None:
    raise ValueError(message)


def iter_text_lines(path: str, kind: str,
                    on_error: Optional[ErrorFn] = None
                    ) -> Iterator[Tuple[int, str]]:
    """``(line number, stripped line)`` of the non-blank lines of a text
    file of a dataset (list, caption or label file).

    Lines end at LF, CRLF or CR, as in Python's text mode. Each line is
    decoded on its own, so a byte that is not UTF-8 is reported with its
    file and line (Python's own message names neither).

    Args:
        path (str): The file.
        kind (str): What it is, for messages (``'list'``, ``'label'``...).
        on_error (callable, optional): Called with the message of each
            line that is not UTF-8 (the line is left out) instead of
            raising it.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the file and line of a byte that is not UTF-8
            (without ``on_error``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{kind} file not found: {path}')
    report = on_error or _raise
    with open(path, 'rb') as f:
        data = f.read()
    for lineno, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode(ENCODING if lineno == 1 else 'utf-8')
        except UnicodeDecodeError as error:
            report(f'{path}, line {lineno}: not UTF-8 text (byte '
                   f'0x{raw[error.start]:02x} at byte {error.start + 1} of '
                   f'the line: {raw[:80]!r}); save the {kind} file as UTF-8')
            continue
        line = line.strip()
        if line:
            yield lineno, line


def parse_ids(tokens: List[str], num_classes: Optional[int],
              where: str) -> List[int]:
    """Sorted class ids of the label tokens of one line.

    Raises:
        ValueError: Naming ``where``, for a non-integer, negative,
            out-of-range or repeated id.
    """
    ids = []
    for tok in tokens:
        try:
            idx = int(tok)
        except ValueError:
            raise ValueError(f'{where}: label id {tok!r} is not an integer')
        if idx < 0:
            raise ValueError(f'{where}: negative label id {idx}')
        if num_classes is not None and idx >= num_classes:
            raise ValueError(f'{where}: label id {idx} out of range for '
                             f'{num_classes} classes (0..{num_classes - 1})')
        if idx in ids:
            raise ValueError(f'{where}: label id {idx} repeated')
        ids.append(idx)
    return sorted(ids)


def iter_list_file(path: str,
                   num_classes: Optional[int] = None,
                   allow_unlabelled: bool = True,
                   on_error: Optional[ErrorFn] = None
                   ) -> Iterator[ListEntry]:
    """Iterate over the image lines of a list file.

    Args:
        path (str): The list file.
        num_classes (int, optional): If given, ids must be below it.
        allow_unlabelled (bool): Whether a line may have no label id (test
            sets). Defaults to True.
        on_error (callable, optional): Called with each error message
            instead of raising it (see the module docstring).

    Yields:
        ListEntry: ``(lineno, path, ids)`` of each image line.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the file and line, on the first error (without
            ``on_error``).
    """
    report = on_error or _raise
    first_line: Dict[str, int] = {}
    for lineno, line in iter_text_lines(path, 'list', on_error):
        where = f'{path}, line {lineno}'
        img, *tokens = line.split()
        key = image_key(img)
        if key in first_line:
            report(f'{where}: duplicate image {img!r} (first on line '
                   f'{first_line[key]})')
            continue
        first_line[key] = lineno
        try:
            ids = parse_ids(tokens, num_classes, where)
        except ValueError as error:
            report(str(error))
            ids = None
        if ids == [] and not allow_unlabelled:
            report(f'{where}: training image {img!r} has no labels '
                   '(unlabelled images are only allowed in test sets)')
        yield ListEntry(lineno, img, ids)
    if not first_line:
        report(f'{path}: the list file has no image lines')


def read_list_file(path: str,
                   num_classes: Optional[int] = None,
                   allow_unlabelled: bool = True) -> List[ListEntry]:
    """All entries of a list file (see :func:`iter_list_file`)."""
    return list(iter_list_file(path, num_classes, allow_unlabelled))


def parse_list_file(
        path: str,
        num_classes: Optional[int] = None
) -> Tuple[List[str], List[List[int]]]:
    """Image paths and label ids of a list file, as two lists (see
    :func:`iter_list_file`; a line without ids is an unlabelled image).

    Args:
        path (str): Path of the list file.
        num_classes (int, optional): If given, ids must be below it.

    Returns:
        tuple[list[str], list[list[int]]]: Image paths and, per image, the
        sorted class ids.

    Examples:
        >>> paths, labels = parse_list_file('data/voc/voc_lt_train.txt', 20)
        >>> len(paths), labels[0]
        (1142, [4, 14, 19])
    """
    entries = read_list_file(path, num_classes)
    return [e.path for e in entries], [e.ids for e in entries]


def iter_caption_file(path: str,
                      on_error: Optional[ErrorFn] = None
                      ) -> Iterator[CaptionEntry]:
    """Iterate over the lines of a caption file.

    Args:
        path (str): The caption file.
        on_error (callable, optional): Called with each error message
            instead of raising it.

    Yields:
        CaptionEntry: One per image with a caption.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Naming the file and line, for a line without caption
            text or a second caption of an image (without ``on_error``).
    """
    report = on_error or _raise
    first_line: Dict[str, int] = {}
    for lineno, line in iter_text_lines(path, 'caption', on_error):
        where = f'{path}, line {lineno}'
        parts = line.split(None, 1)
        if len(parts) != 2:
            report(f'{where}: expected "<image path> <caption>", got '
                   f'{line!r}')
            continue
        key = image_key(parts[0])
        if key in first_line:
            report(f'{where}: second caption for image {parts[0]!r} (first '
                   f'on line {first_line[key]})')
            continue
        first_line[key] = lineno
        yield CaptionEntry(lineno, parts[0], key, parts[1])
