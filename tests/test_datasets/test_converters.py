# Copyright (c) mmltml contributors. All rights reserved.
"""Tests of tools/dataset_converters/*.py, run in-process via main(argv)."""
import hashlib
import importlib.util
import json
import os.path as osp
import shutil

import pytest

from mmltml.datasets import LTMultiLabelDataset, load_class_stats
from .ltml_counts import VOC_TRAIN

TOOLS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'dataset_converters')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_lines(path):
    with open(path, encoding='utf-8') as f:
        return f.read().splitlines()


# ----------------------------------------------------------- download_ltml
def test_download_src_copies_and_verifies(tmp_path, ltml_dir):
    tool = _tool('download_ltml')
    # the checksums in the tool are independent of the files: recompute
    for rel, digest in tool.SHA256.items():
        with open(osp.join(ltml_dir, rel), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
    assert len(tool.SHA256) == 8
    out = tmp_path / 'data'
    assert tool.main(['--src', ltml_dir, '--out', str(out)]) == 0
    for rel in tool.SHA256:
        with open(osp.join(ltml_dir, rel), 'rb') as a, \
                open(out / rel, 'rb') as b:
            assert a.read() == b.read()


def test_download_rejects_tampered_and_missing(tmp_path, ltml_dir, capsys):
    tool = _tool('download_ltml')
    src = tmp_path / 'src'
    shutil.copytree(osp.join(ltml_dir, 'voc'), src / 'voc')
    with open(src / 'voc' / 'voc_lt_train.txt', 'a') as f:
        f.write('\nVOCdevkit/VOC2012/JPEGImages/extra.jpg 0')
    (src / 'voc' / 'voc_labels.txt').unlink()
    out = tmp_path / 'out'
    rc = tool.main(['--src', str(src), '--out', str(out), '--datasets', 'voc'])
    assert rc == 1
    err = capsys.readouterr().err
    assert 'voc/voc_lt_train.txt: sha256 mismatch' in err
    assert 'voc/voc_labels.txt: not found' in err
    assert not (out / 'voc' / 'voc_lt_train.txt').exists()
    assert (out / 'voc' / 'voc_lt_test.txt').exists()
    assert sorted(p.name for p in (out / 'voc').iterdir()) == [
        'voc_lt_captions.txt', 'voc_lt_test.txt'
    ]  # no partial files left


# ------------------------------------------------------------ coco_to_list
def _tiny_coco(path):

    def ann(aid, img, cat, bbox, area=None, iscrowd=0, **extra):
        return dict(
            id=aid,
            image_id=img,
            category_id=cat,
            bbox=bbox,
            area=bbox[2] * bbox[3] if area is None else area,
            iscrowd=iscrowd,
            **extra)

    data = dict(
        images=[
            dict(id=i, file_name=f'{i:012d}.jpg', width=64, height=64)
            for i in (4, 1, 2, 3)
        ],
        categories=[
            dict(id=7, name='toothbrush'),
            dict(id=1, name='person'),
            dict(id=3, name='traffic light')
        ],
        annotations=[
            ann(1, 1, 1, [0, 0, 10, 10]),
            ann(2, 1, 3, [0, 0, 10, 10], area=0),  # area 0: ignored
            ann(3, 2, 7, [0, 0, 5, 5], iscrowd=1),  # crowd counts
            ann(4, 2, 1, [0, 0, 0.5, 10]),  # w < 1: ignored
            ann(5, 3, 3, [0, 0, 10, 10], ignore=1),  # ignore flag
            ann(6, 4, 3, [0, 0, 1, 1]),  # 1x1 counts
        ])
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def test_coco_to_list_rules(tmp_path):
    tool = _tool('coco_to_list')
    ann_file = _tiny_coco(tmp_path / 'instances.json')
    out, labels = tmp_path / 'list.txt', tmp_path / 'labels.txt'
    tool.main([
        ann_file, '--out',
        str(out), '--labels-out',
        str(labels), '--img-prefix', 'val2017/'
    ])
    assert _read_lines(labels) == [
        'person 0', 'traffic light 1', 'toothbrush 2'
    ]
    assert _read_lines(out) == [
        'val2017/000000000001.jpg 0',
        'val2017/000000000002.jpg 2',
        'val2017/000000000003.jpg',
        'val2017/000000000004.jpg 1',
    ]
    ds = LTMultiLabelDataset(
        ann_file=str(out), label_file=str(labels), test_mode=True)
    assert len(ds) == 4 and ds.num_unlabelled == 1


def test_coco_to_list_img_ids(tmp_path):
    tool = _tool('coco_to_list')
    ann_file = _tiny_coco(tmp_path / 'instances.json')
    ids = tmp_path / 'ids.txt'
    ids.write_text('4\n\n2\n')
    out = tmp_path / 'sub.txt'
    tool.main([ann_file, '--out', str(out), '--img-ids', str(ids)])
    assert _read_lines(out) == ['000000000004.jpg 1', '000000000002.jpg 2']
    ids.write_text('4\n99\n')
    with pytest.raises(ValueError, match='not in the annotations'):
        tool.main([ann_file, '--out', str(out), '--img-ids', str(ids)])
    ids.write_text('4\nabc\n')
    with pytest.raises(ValueError, match='ids.txt, line 2'):
        tool.main([ann_file, '--out', str(out), '--img-ids', str(ids)])


# ------------------------------------------------------------- voc_to_list
def _voc_xml(objects):
    objs = ''.join(
        f'<object><name>{n}</name><difficult>{d}</difficult>'
        '<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax>'
        '</bndbox></object>' for n, d in objects)
    return f'<annotation><filename>x.jpg</filename>{objs}</annotation>'


def _tiny_voc(root):
    (root / 'Annotations').mkdir(parents=True)
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'Annotations' / '000001.xml').write_text(
        _voc_xml([('person', 0), ('dog', 1), ('person', 1)]))
    (root / 'Annotations' / '000002.xml').write_text(_voc_xml([
        ('cow', 1)
    ]))  # difficult only: still positive
    (root / 'ImageSets' / 'Main' / 'test.txt').write_text('000001\n000002\n')
    return root


def test_voc_to_list_difficult_positive(tmp_path):
    tool = _tool('voc_to_list')
    root = _tiny_voc(tmp_path / 'VOC2007')
    out = tmp_path / 'voc_test.txt'
    tool.main([
        str(root), '--split', 'test', '--img-prefix',
        'VOCdevkit/VOC2007/JPEGImages', '--out',
        str(out)
    ])
    assert _read_lines(out) == [
        'VOCdevkit/VOC2007/JPEGImages/000001.jpg 11 14',
        'VOCdevkit/VOC2007/JPEGImages/000002.jpg 9',
    ]
    ids = tmp_path / 'ids.txt'
    ids.write_text('000002\n')
    tool.main([str(root), '--img-ids', str(ids), '--out', str(out)])
    assert _read_lines(out) == ['JPEGImages/000002.jpg 9']


def test_voc_to_list_errors(tmp_path):
    tool = _tool('voc_to_list')
    root = _tiny_voc(tmp_path / 'VOC2007')
    (root / 'Annotations' / '000002.xml').write_text(
        _voc_xml([('unicorn', 0)]))
    out = str(tmp_path / 'o.txt')
    with pytest.raises(ValueError, match=r'000002.xml: unknown class'):
        tool.main([str(root), '--split', 'test', '--out', out])
    (root / 'Annotations' / '000002.xml').write_text('<annotation><obj')
    with pytest.raises(ValueError, match=r'000002.xml: malformed XML'):
        tool.main([str(root), '--split', 'test', '--out', out])
    with pytest.raises(FileNotFoundError, match='val.txt'):
        tool.main([str(root), '--split', 'val', '--out', out])


# ----------------------------------------------------- compute_class_stats
def test_compute_class_stats_tool(tmp_path, ltml_dir, capsys):
    tool = _tool('compute_class_stats')
    out = tmp_path / 'voc_stats.json'
    tool.main([
        osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'), '--labels',
        osp.join(ltml_dir, 'voc', 'voc_labels.txt'), '--out',
        str(out)
    ])
    printed = capsys.readouterr().out
    assert 'head' in printed and 'images: 1142' in printed
    stats = load_class_stats(str(out))
    assert stats['class_freq'] == VOC_TRAIN
    assert stats['classes'][15] == 'pottedplant'
    tool.main([
        osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'), '--num-classes', '20',
        '--head', '200', '--tail', '10', '--out',
        str(out)
    ])
    stats = load_class_stats(str(out), head_thr=200, tail_thr=10)
    assert stats['classes'] is None
    # VOC-LT counts: 4 classes >= 200, 11 in 10..199, 5 below 10
    assert [len(stats['groups'][g])
            for g in ('head', 'medium', 'tail')] == [4, 11, 5]
    with pytest.raises(SystemExit):
        tool.main(
            [osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'), '--out',
             str(out)])
    with pytest.raises(ValueError, match='line 1: label id 14 out of range'):
        tool.main([
            osp.join(ltml_dir, 'voc', 'voc_lt_train.txt'), '--num-classes',
            '3', '--out',
            str(out)
        ])
