# Copyright (c) mmltml contributors. All rights reserved.
"""Fetch the official COCO-LT / VOC-LT list, label and caption files.

The eight files are those distributed with LMPT (Apache-2.0), repository
``richard-peng-xia/LMPT``, folder ``data/``. Every file is checked against
its sha256 before it is written; a file that does not match is not kept.

Layout written under ``--out`` (default ``data``)::

    data/coco/{coco_labels.txt, coco_lt_train.txt, coco_lt_test.txt,
               coco_lt_captions.txt}
    data/voc/{voc_labels.txt, voc_lt_train.txt, voc_lt_test.txt,
              voc_lt_captions.txt}

Examples:
    python tools/dataset_converters/download_ltml.py --out data
    # offline: copy and verify from a folder with coco/ and voc/ inside
    python tools/dataset_converters/download_ltml.py --src /path/ltml
"""
import argparse
import hashlib
import os
import os.path as osp
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from typing import Iterable, List

BASE_URL = ('https://raw.githubusercontent.com/richard-peng-xia/LMPT/HEAD/'
            'data')
SHA256 = {
    'coco/coco_labels.txt':
    'a16d52dc65d8bc2b7abe5875199d802e951b7af142b327f8c85b496116a87f45',
    'coco/coco_lt_captions.txt':
    '4bcc3de5c20e3561f6bbe90188c00cea3adf1eab58245f761e4fd9b93319fecd',
    'coco/coco_lt_test.txt':
    '4dda722463b0ed3aada172ce1c75f46f1391e4d2bee7643760549f916a8022e5',
    'coco/coco_lt_train.txt':
    '8e0c354ae2214d7ced46f4a5ae24236149296be4dcd2df74f00eba2abe6be0ce',
    'voc/voc_labels.txt':
    '59e82ce7a1fa096b8a80c22cc72e6c86e54c598b2e1cfe08a211f1c82a0dcb2c',
    'voc/voc_lt_captions.txt':
    'a986c2d493d4258aa470fe0b48b66b12c1ec338e4341dda3fb4c46ef9865f273',
    'voc/voc_lt_test.txt':
    '43b2929a86e9fe685cdf3b6b72fb90b6838ff9f9f427807e8b9502111e73750a',
    'voc/voc_lt_train.txt':
    '2111a5e58ae8b67a112a2b2c8aa98fe8fa926ac3e1d73e2e4e0e4844c90cc047',
}


class FetchError(RuntimeError):
    """A file could not be obtained or failed its checksum."""


def sha256sum(path: str) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _obtain(rel: str, src: str, dst: str, timeout: float) -> None:
    """Copy ``rel`` from ``src`` (a folder) or download it, into ``dst``."""
    if src:
        path = osp.join(src, rel)
        if not osp.isfile(path):
            raise FetchError(f'{rel}: not found in --src folder ({path})')
        shutil.copyfile(path, dst)
        return
    url = f'{BASE_URL}/{rel}'
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, \
                open(dst, 'wb') as f:
            shutil.copyfileobj(resp, f)
    except (urllib.error.URLError, OSError) as e:
        raise FetchError(
            f'{rel}: cannot download {url} ({e}). If this machine is '
            'offline, copy the files from a machine that has them and use '
            '--src DIR (a folder with coco/ and voc/ inside).') from None


def fetch(rel: str, out: str, src: str = '', timeout: float = 60) -> str:
    """Obtain one file, verify its sha256 and move it to ``out/rel``.

    Args:
        rel (str): File key, e.g. ``'coco/coco_lt_train.txt'``.
        out (str): Output root.
        src (str): Local folder to copy from instead of downloading.
        timeout (float): Download timeout in seconds.

    Returns:
        str: The path written.
    """
    target = osp.join(out, rel)
    os.makedirs(osp.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(target), suffix='.part')
    os.close(fd)
    try:
        _obtain(rel, src, tmp, timeout)
        digest = sha256sum(tmp)
        if digest != SHA256[rel]:
            raise FetchError(f'{rel}: sha256 mismatch (got {digest}, '
                             f'expected {SHA256[rel]}); file not written')
        os.replace(tmp, target)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return target


def select(datasets: Iterable[str]) -> List[str]:
    """The file keys of the chosen datasets ('coco', 'voc')."""
    return [rel for rel in SHA256 if rel.split('/')[0] in set(datasets)]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out', default='data', help='output root (default: data)')
    parser.add_argument(
        '--src',
        default='',
        help='copy from this local folder (with coco/ and voc/) instead of '
        'downloading; checksums are verified the same way')
    parser.add_argument(
        '--datasets',
        nargs='+',
        default=['coco', 'voc'],
        choices=['coco', 'voc'],
        help='which datasets to fetch (default: both)')
    parser.add_argument(
        '--timeout', type=float, default=60, help='download timeout (s)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    failed = []
    for rel in select(args.datasets):
        try:
            print(f'ok  {fetch(rel, args.out, args.src, args.timeout)}')
        except FetchError as e:
            failed.append(rel)
            print(f'ERR {e}', file=sys.stderr)
    if failed:
        print(f'{len(failed)} file(s) failed: {failed}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
