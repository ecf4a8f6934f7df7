# Copyright (c) mmltml contributors. All rights reserved.
"""Convert PASCAL VOC XML annotations into an LT list file.

Every ``<object>`` makes its class positive, **difficult objects
included** (the DB-loss / VOC-LT protocol). Classes are indexed in the
standard VOC order (aeroplane ... tvmonitor).

Examples:
    # VOC-LT test list: VOC2007 test, paths relative to data/voc
    python tools/dataset_converters/voc_to_list.py \\
        data/voc/VOCdevkit/VOC2007 --split test \\
        --img-prefix VOCdevkit/VOC2007/JPEGImages \\
        --out data/voc/voc_lt_test.txt
    # a train subset given by image ids (one per line)
    python tools/dataset_converters/voc_to_list.py \\
        data/voc/VOCdevkit/VOC2012 --img-ids img_id.txt \\
        --img-prefix VOCdevkit/VOC2012/JPEGImages --out train.txt
"""
import argparse
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Sequence

from mmltml.datasets.categories import VOC_LT_CLASSES


def read_ids(path: str) -> List[str]:
    """Read image ids (first token of each non-blank line)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image id file not found: {path}')
    with open(path, encoding='utf-8') as f:
        return [line.split()[0] for line in f if line.strip()]


def xml_labels(xml_path: str,
               classes: Sequence[str] = VOC_LT_CLASSES) -> List[int]:
    """Sorted class ids of all objects of one XML file (difficult too)."""
    if not osp.isfile(xml_path):
        raise FileNotFoundError(f'annotation not found: {xml_path}')
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise ValueError(f'{xml_path}: malformed XML ({e})') from None
    labels = set()
    for obj in root.findall('object'):
        name = (obj.findtext('name') or '').strip()
        if name not in classes:
            raise ValueError(f'{xml_path}: unknown class {name!r}')
        labels.add(classes.index(name))
    return sorted(labels)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('voc_root', help='e.g. data/voc/VOCdevkit/VOC2007')
    ids = parser.add_mutually_exclusive_group(required=True)
    ids.add_argument('--split', help='ImageSets/Main/<split>.txt')
    ids.add_argument('--img-ids', help='file with one image id per line')
    parser.add_argument(
        '--img-prefix',
        default='JPEGImages',
        help='folder written before <id>.jpg in the list')
    parser.add_argument('--out', required=True, help='list file to write')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    id_file = args.img_ids or osp.join(args.voc_root, 'ImageSets', 'Main',
                                       f'{args.split}.txt')
    img_ids = read_ids(id_file)
    prefix = args.img_prefix.rstrip('/')
    with open(args.out, 'w', encoding='utf-8') as f:
        for img_id in img_ids:
            labels = xml_labels(
                osp.join(args.voc_root, 'Annotations', f'{img_id}.xml'))
            f.write(' '.join([f'{prefix}/{img_id}.jpg'] +
                             [str(i) for i in labels]) + '\n')
    print(f'{len(img_ids)} images -> {args.out}')


if __name__ == '__main__':
    main()
