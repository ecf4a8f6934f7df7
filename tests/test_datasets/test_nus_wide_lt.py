# Copyright (c) mmltml contributors. All rights reserved.
"""NUS-WIDE-LT: tools/dataset_converters/nus_wide_to_list.py on a tiny
distribution generated here in the NUS-WIDE layout (no download), and
NUSWIDELTDataset on its output."""
import hashlib
import os
import os.path as osp

import numpy as np
import pytest

from mmltml.datasets import (NUS_WIDE_LT_CLASSES, NUSWIDELTDataset,
                             get_class_names)
from .test_converters import _tool

FOLDERS = ('actor', 'airport', 'zoo')


def make_distribution(root, num_images=420, seed=0):
    """A tiny NUS-WIDE distribution: Concepts81.txt (CRLF), ImageList/ with
    Windows paths (Imagelist.txt with the ``C:\\ImageData\\Flickr`` prefix,
    the split lists without), Groundtruth/AllLabels and NUS_WID_Tags.
    Returns the ground truth: per image its key, labels, tags and split."""
    rng = np.random.default_rng(seed)
    num = len(NUS_WIDE_LT_CLASSES)
    # class c is in about max(80 * 0.95^c, 8) images: a long tail
    prob = np.maximum(80 * 0.95**np.arange(num), 8) / num_images
    images = []
    for i in range(num_images):
        labels = np.flatnonzero(rng.random(num) < prob).tolist()
        photo_id = 1000 + 7 * i
        tags = [] if i % 13 == 0 else [f'tag{t}' for t in rng.choice(
            50, rng.integers(1, 5), replace=False)]
        images.append(dict(
            key=f'{FOLDERS[i % 3]}/{i:04d}_{photo_id}.jpg',
            photo_id=photo_id, labels=labels, tags=tags,
            split='Test' if i % 4 == 0 else 'Train'))
    (root / 'ImageList').mkdir(parents=True)
    (root / 'Groundtruth' / 'AllLabels').mkdir(parents=True)
    (root / 'NUS_WID_Tags').mkdir()
    with open(root / 'Concepts81.txt', 'w', newline='') as f:
        f.write(''.join(f'{name}\r\n' for name in NUS_WIDE_LT_CLASSES))
    windows = [img['key'].replace('/', '\\') for img in images]
    (root / 'ImageList' / 'Imagelist.txt').write_text(''.join(
        f'C:\\ImageData\\Flickr\\{path}\n' for path in windows))
    for split in ('Train', 'Test'):
        (root / 'ImageList' / f'{split}Imagelist.txt').write_text(''.join(
            f'{path}\n' for path, img in zip(windows, images)
            if img['split'] == split))
    for c, name in enumerate(NUS_WIDE_LT_CLASSES):
        (root / 'Groundtruth' / 'AllLabels' / f'Labels_{name}.txt'
         ).write_text(''.join(f'{int(c in img["labels"])}\n'
                              for img in images))
    (root / 'NUS_WID_Tags' / 'All_Tags.txt').write_text(''.join(
        f'{img["photo_id"]}      {" ".join(img["tags"])}\n'
        for img in images))
    return images


@pytest.fixture
def distribution(tmp_path):
    root = tmp_path / 'NUS-WIDE'
    return root, make_distribution(root)


def _convert(root, out, *extra):
    _tool('nus_wide_to_list').main([str(root), '--out', str(out),
                                    '--max-count', '40', *extra])
    return {name: (out / name).read_bytes() for name in os.listdir(out)
            if (out / name).is_file()}


def _line(img):
    return ' '.join([f'Flickr/{img["key"]}'] + [str(c)
                                                for c in img['labels']])


def test_converter_lists_and_split(distribution, tmp_path, capsys):
    root, images = distribution
    files = _convert(root, tmp_path / 'out')
    assert 'not the NUS-WIDE-LT split' in capsys.readouterr().out
    text = {k: v.decode() for k, v in files.items() if k.endswith('.txt')}
    # test list: every official test image with a concept, in list order
    assert text['nus_wide_lt_test.txt'].splitlines() == [
        _line(img) for img in images
        if img['split'] == 'Test' and img['labels']]
    # the pool: every train image with a concept and a tag; captions = tags
    pool = [img for img in images
            if img['split'] == 'Train' and img['labels'] and img['tags']]
    assert text['nus_wide_full_train.txt'].splitlines() == [
        _line(img) for img in pool]
    assert text['nus_wide_full_captions.txt'].splitlines() == [
        f'Flickr/{img["key"]} ' + ' '.join(img['tags']) for img in pool]
    # the split: a subset of the pool with its captions and labels
    train = text['nus_wide_lt_train.txt'].splitlines()
    assert set(train) <= {_line(img) for img in pool}
    assert 0 < len(train) < len(pool)
    captions = text['nus_wide_lt_captions.txt'].splitlines()
    assert [c.split()[0] for c in captions] == [t.split()[0] for t in train]
    assert text['nus_wide_lt_labels.txt'].splitlines() == [
        f'{name} {i}' for i, name in enumerate(NUS_WIDE_LT_CLASSES)]
    # every file but the manifest is in the manifest, with its sha256
    manifest = dict(line.split('  ')[::-1] for line in
                    text['nus_wide_lt_sha256.txt'].splitlines())
    assert set(manifest) == set(files) - {'nus_wide_lt_sha256.txt'}
    for name, digest in manifest.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest


def test_converter_is_byte_identical(distribution, tmp_path):
    root, _ = distribution
    assert _convert(root, tmp_path / 'a') == _convert(root, tmp_path / 'b')
    other = _convert(root, tmp_path / 'c', '--seed', '1')
    assert other['nus_wide_lt_train.txt'] != (
        tmp_path / 'a' / 'nus_wide_lt_train.txt').read_bytes()


def test_dataset_reads_the_converted_files(distribution, tmp_path):
    root, images = distribution
    _convert(root, root)
    train = NUSWIDELTDataset(str(root), with_captions=True)
    test = NUSWIDELTDataset(str(root), split='test')
    assert train.CLASSES == NUS_WIDE_LT_CLASSES and len(train.CLASSES) == 81
    assert get_class_names('nus-wide-lt') == list(NUS_WIDE_LT_CLASSES)
    by_key = {img['key']: img for img in images}
    assert len(test) == sum(1 for img in images
                            if img['split'] == 'Test' and img['labels'])
    for ds in (train, test):
        for i in (0, len(ds) - 1):
            info = ds.get_data_info(i)
            key = osp.relpath(info['img_path'], str(root / 'Flickr'))
            assert info['gt_label'] == by_key[key]['labels']
    info = train.get_data_info(0)
    key = osp.relpath(info['img_path'], str(root / 'Flickr'))
    assert info['caption'] == ' '.join(by_key[key]['tags'])
    assert train.class_stats['num_images'] == len(train)


@pytest.mark.parametrize('damage, match', [
    (('Groundtruth/AllLabels/Labels_lake.txt', 5, '-1130179'),
     r'Labels_lake.txt, line 6: expected 0 or 1'),
    (('Concepts81.txt', 3, 'bears'), r"Concepts81.txt, line 4: concept "
     r"'bears', expected 'bear'"),
    (('NUS_WID_Tags/All_Tags.txt', 2, '99 sky'),
     r"All_Tags.txt, line 3: photo id '99' is not that of image "
     r"'zoo/0002_1014.jpg'"),
    (('ImageList/TrainImagelist.txt', 0, 'actor\\9999_1.jpg'),
     r"TrainImagelist.txt, line 1: image .* is not in"),
])
def test_converter_errors_name_file_and_line(distribution, tmp_path, damage,
                                             match):
    root, _ = distribution
    rel, index, text = damage
    path = root / rel
    lines = path.read_text().splitlines()
    lines[index] = text
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ValueError, match=match):
        _convert(root, tmp_path / 'out')
