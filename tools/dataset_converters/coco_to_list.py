# Copyright (c) mmltml contributors. All rights reserved.
"""Convert a COCO instances JSON into an LT list file and a label file.

Label rules of the DB-loss protocol (Wu et al. 2020): a class is positive
for an image if the image has an annotation of that class with area > 0,
width >= 1 and height >= 1 that is not flagged ``ignore``; crowd
(``iscrowd``) annotations count. The class index is the rank of the
category id (the standard 80-class order). Every selected image is written,
including images without labels (a line with the path only).

Examples:
    # COCO-LT test list from val2017
    python tools/dataset_converters/coco_to_list.py \\
        data/coco/annotations/instances_val2017.json \\
        --img-prefix val2017 --out data/coco/coco_lt_test.txt \\
        --labels-out data/coco/coco_labels.txt
    # a train subset given by image ids (one per line)
    python tools/dataset_converters/coco_to_list.py \\
        data/coco/annotations/instances_train2017.json \\
        --img-prefix train2017 --img-ids img_id.txt --out train.txt
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from pycocotools.coco import COCO


def is_positive(ann: dict) -> bool:
    """Whether an annotation makes its class positive (DB rules)."""
    _, _, w, h = ann['bbox']
    return (not ann.get('ignore', False) and ann.get('area', 0) > 0 and w >= 1
            and h >= 1)


def read_img_ids(path: str) -> List[int]:
    """Read image ids, one integer per line (blank lines skipped)."""
    ids = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if not line.isdigit():
                raise ValueError(f'{path}, line {lineno}: image id must be '
                                 f'an integer, got {line!r}')
            ids.append(int(line))
    return ids


def coco_to_list(
    coco: COCO,
    img_ids: Optional[Sequence[int]] = None
) -> Tuple[List[str], List[Tuple[str, List[int]]]]:
    """Extract class names and ``(file name, class ids)`` per image.

    Args:
        coco (COCO): Loaded annotations.
        img_ids (Sequence[int], optional): Images to keep, in this order;
            all images in id order by default.

    Returns:
        tuple: Class names (index order) and one ``(file_name, ids)`` per
        image.
    """
    cat_ids = sorted(coco.getCatIds())
    cat_to_idx: Dict[int, int] = {c: i for i, c in enumerate(cat_ids)}
    names = [coco.loadCats(c)[0]['name'] for c in cat_ids]
    if img_ids is None:
        img_ids = sorted(coco.getImgIds())
    missing = sorted(set(img_ids) - set(coco.imgs))
    if missing:
        raise ValueError(f'{len(missing)} image ids not in the annotations, '
                         f'e.g. {missing[:5]}')
    rows = []
    for img_id in img_ids:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
        labels = sorted(
            {cat_to_idx[a['category_id']]
             for a in anns if is_positive(a)})
        rows.append((coco.imgs[img_id]['file_name'], labels))
    return names, rows


def write_list(path: str, prefix: str,
               rows: Sequence[Tuple[str, List[int]]]) -> None:
    """Write ``<prefix/file> <ids...>`` lines."""
    with open(path, 'w', encoding='utf-8') as f:
        for file_name, labels in rows:
            img = f'{prefix}/{file_name}' if prefix else file_name
            f.write(' '.join([img] + [str(i) for i in labels]) + '\n')


def write_labels(path: str, names: Sequence[str]) -> None:
    """Write ``<name> <index>`` lines."""
    with open(path, 'w', encoding='utf-8') as f:
        for idx, name in enumerate(names):
            f.write(f'{name} {idx}\n')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file', help='COCO instances_*.json')
    parser.add_argument('--out', required=True, help='list file to write')
    parser.add_argument('--labels-out', help='label file to write')
    parser.add_argument(
        '--img-prefix',
        default='',
        help='folder prepended to file names, e.g. train2017')
    parser.add_argument(
        '--img-ids', help='keep only these image ids (one per line)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.ann_file):
        raise FileNotFoundError(f'annotation file not found: {args.ann_file}')
    img_ids = read_img_ids(args.img_ids) if args.img_ids else None
    names, rows = coco_to_list(COCO(args.ann_file), img_ids)
    write_list(args.out, args.img_prefix.rstrip('/'), rows)
    if args.labels_out:
        write_labels(args.labels_out, names)
    unlabelled = sum(not labels for _, labels in rows)
    print(f'{len(rows)} images ({unlabelled} without labels), '
          f'{len(names)} classes -> {args.out}')


if __name__ == '__main__':
    main()
