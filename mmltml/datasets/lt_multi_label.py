# Copyright (c) mmltml contributors. All rights reserved.
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.fileio import join_path, list_from_file
from mmengine.logging import print_log
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS

from mmltml.structures import HEAD_THR, TAIL_THR, compute_class_stats

from .categories import get_class_names, is_preset
from .list_file import image_key, iter_caption_file, iter_list_file
from .image_check import apply_pipeline, iter_image_problems

BAD_IMAGE_POLICIES = ('error', 'skip')
LABEL_ORDERS = ('sorted', 'file')


@DATASETS.register_module()
class LTMultiLabelDataset(MultiLabelDataset):
    """Multi-label dataset read from a ``<image path> <label ids...>`` list.

    This is the format of the official long-tailed splits (COCO-LT, VOC-LT),
    one image per line, e.g. ``train2017/000000554625.jpg 0 62 64 66``. The
    class names come from a ``<class name> <index>`` label file or from
    ``metainfo=dict(classes=...)`` (when both are given the class counts
    must agree and the ``metainfo`` names are used). An optional caption
    file (``<image path> <caption text>``) adds a ``caption`` string to each
    sample, matched by image path; ``PackInputs(algorithm_keys=['caption'])``
    carries it into the data sample.

    Each data info has ``img_path`` (joined with ``data_root`` and
    ``data_prefix``), ``gt_label`` (list of class ids) and, when captions
    are loaded and the image has one, ``caption``. Annotations are parsed
    without reading any image.

    The list and caption files are read by
    :mod:`mmltml.datasets.list_file` (the reader of
    ``tools/misc/check_dataset.py`` too). Errors name the file and line:
    an empty list, label id out of range, duplicate image (also written
    differently, ``./x.jpg`` and ``x.jpg``), caption for an image not in
    the list, missing caption (when ``require_captions``), caption line
    without text, and an image without labels in a training set
    (``test_mode=False``). Unlabelled images are allowed in test mode and
    counted by :attr:`num_unlabelled`. A UTF-8 byte-order mark is dropped.

    Unreadable images: with ``on_bad_image='error'`` (the default) an image
    that makes the pipeline fail because it is missing, empty or
    undecodable raises :class:`~mmltml.datasets.image_check.BadImageError`
    naming the image and its list file line, instead of mmcv's bare error
    or mmengine's silent fetch of another image (a truncated file that
    OpenCV decodes in part is not noticed then). With
    ``on_bad_image='skip'`` every image is opened and decoded once when the
    dataset is initialised, with the check of ``tools/misc/check_dataset.py``
    (missing, empty, undecodable or truncated), and unreadable ones are left
    out: they are listed in :attr:`skipped_images`, logged as a warning with
    their list file lines, and counted in the dataset's repr.

    Args:
        ann_file (str): List file, relative to ``data_root`` unless
            absolute.
        label_file (str, optional): ``<class name> <index>`` label file
            (relative to ``data_root`` unless absolute) or a preset name
            (``'coco-lt'``, ``'voc-lt'``). Defaults to None.
        caption_file (str, optional): ``<image path> <caption>`` file,
            relative to ``data_root`` unless absolute. Defaults to None.
        require_captions (bool): Whether every image must have a caption.
            Defaults to False.
        metainfo (dict, optional): Meta information; ``classes`` gives the
            class names. Defaults to None.
        classes (str | Sequence[str], optional): mmpretrain's legacy way to
            give class names (a list, or a file with one name per line);
            ``metainfo`` wins if both are given. Defaults to None.
        data_root (str): Root of ``ann_file``, ``label_file``,
            ``caption_file`` and ``data_prefix``. Defaults to ''.
        data_prefix (str | dict): Prefix of the image paths of the list.
            Defaults to ''.
        test_mode (bool): Test phase; also allows unlabelled images.
            Defaults to False.
        on_bad_image (str): ``'error'`` (default) or ``'skip'``, see above.
            Skipping reads every image at initialisation, in each process
            that builds the dataset.
        label_order (str): Order of each image's ``gt_label`` ids:
            ``'sorted'`` (default) or ``'file'``, the order its list file
            line writes them in (the multi-hot labels are the same; LM-CLIP
            names the labels in that order in its label captions,
            :class:`~mmltml.models.head_inputs.LabelCaptionsInput`).
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``indices``, ``serialize_data``, ``lazy_init``,
            ...).

    Examples:
        >>> from mmltml.datasets import LTMultiLabelDataset
        >>> ds = LTMultiLabelDataset(
        ...     ann_file='coco_lt_train.txt', label_file='coco_labels.txt',
        ...     caption_file='coco_lt_captions.txt', data_root='data/coco')
        >>> ds
        Dataset LTMultiLabelDataset
            Number of samples:  1909
            Number of categories:       80
            Annotation file:    data/coco/coco_lt_train.txt
            Label file:         data/coco/coco_labels.txt
            Caption file:       data/coco/coco_lt_captions.txt
            Prefix of images:   data/coco
            Unlabelled images:  0
            Images with captions:       1909
        >>> ds[0]['data_samples'].caption  # with PackInputs(algorithm_keys=['caption'])
        'a boy wearing headphones ...'
        >>> ds.class_stats['groups']['head'][:3]
        [0, 2, 24]
    """  # noqa: E501

    def __init__(self,
                 ann_file: str,
                 label_file: Optional[str] = None,
                 caption_file: Optional[str] = None,
                 require_captions: bool = False,
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 test_mode: bool = False,
                 classes: Union[str, Sequence[str], None] = None,
                 on_bad_image: str = 'error',
                 label_order: str = 'sorted',
                 **kwargs):
        if label_order not in LABEL_ORDERS:
            raise ValueError(f'label_order must be one of {LABEL_ORDERS}, '
                             f'got {label_order!r}')
        self.label_order = label_order
        if require_captions and not caption_file:
            raise ValueError('require_captions=True needs a caption_file')
        if on_bad_image not in BAD_IMAGE_POLICIES:
            raise ValueError(f'on_bad_image must be one of '
                             f'{BAD_IMAGE_POLICIES}, got {on_bad_image!r}')
        self.on_bad_image = on_bad_image
        #: ``(img_path, line, problem)`` of each image left out.
        self.skipped_images: List[Tuple[str, int, str]] = []
        self.label_file = self._join_root(data_root, label_file)
        self.caption_file = self._join_root(data_root, caption_file)
        self.require_captions = require_captions
        metainfo = self._resolve_classes(metainfo, classes)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            test_mode=test_mode,
            **kwargs)

    @staticmethod
    def _join_root(data_root: str, path: Optional[str]) -> Optional[str]:
        """Join a relative file path (not a preset name) with the root."""
        if not path or osp.isabs(path) or not data_root or is_preset(path):
            return path
        return join_path(data_root, path)

    def _resolve_classes(self, metainfo: Optional[dict],
                         classes: Union[str, Sequence[str], None]) -> dict:
        """Merge the class names of the label file, ``metainfo``, ``classes``
        and the class ``METAINFO``, checking that their counts agree."""
        metainfo = dict(metainfo or {})
        sources = {}
        if 'classes' in metainfo:
            sources['metainfo classes'] = get_class_names(metainfo['classes'])
        elif isinstance(classes, str) and not is_preset(classes):
            # mmpretrain convention: a file with one class name per line
            sources[classes] = list_from_file(classes)
        elif classes is not None:
            sources['classes'] = get_class_names(classes)
        if self.label_file is not None:
            sources[self.label_file] = get_class_names(self.label_file)
        if self.METAINFO.get('classes'):
            sources[f'{type(self).__name__} presets'] = list(
                self.METAINFO['classes'])
        if not sources:
            raise ValueError(f'{type(self).__name__}: give label_file or '
                             'metainfo=dict(classes=...)')
        counts = {src: len(names) for src, names in sources.items()}
        if len(set(counts.values())) > 1:
            raise ValueError(f'class count mismatch: {counts}')
        # Priority: explicit names, then the label file, then the presets.
        metainfo['classes'] = tuple(next(iter(sources.values())))
        return metainfo

    def load_data_list(self) -> List[dict]:
        """Parse the list file (and the caption file) into data infos."""
        captions = self._load_captions()
        num_classes = len(self.CLASSES)
        data_list = []
        for lineno, rel_path, ids in iter_list_file(
                self.ann_file, num_classes,
                allow_unlabelled=self.test_mode,
                sort_ids=self.label_order == 'sorted'):
            where = f'{self.ann_file}, line {lineno}'
            info = dict(
                img_path=join_path(self.img_prefix, rel_path), gt_label=ids)
            caption = captions.pop(image_key(rel_path), None)
            if caption is not None:
                info['caption'] = caption[0]
            elif self.require_captions:
                raise ValueError(f'{where}: image {rel_path!r} has no caption '
                                 f'in {self.caption_file}')
            data_list.append(info)
        if captions:
            path, (_, cap_line) = min(captions.items(), key=lambda x: x[1][1])
            raise ValueError(
                f'{self.caption_file}, line {cap_line}: caption for image '
                f'{path!r}, which is not in {self.ann_file} '
                f'({len(captions)} such captions)')
        return data_list

    def filter_data(self) -> List[dict]:
        """Leave out unreadable images when ``on_bad_image='skip'``."""
        if self.on_bad_image != 'skip':
            return self.data_list
        paths = [info['img_path'] for info in self.data_list]
        problems = dict(iter_image_problems(paths))
        lines = self._image_lines()
        self.skipped_images = [(path, lines.get(path, 0), problems[path])
                               for path in paths if problems[path]]
        if not self.skipped_images:
            return self.data_list
        report = '\n'.join(f'  {self.ann_file}, line {line}: image {path} '
                           f'{problem}'
                           for path, line, problem in self.skipped_images)
        print_log(
            f'{type(self).__name__}: skipped {len(self.skipped_images)} of '
            f'{len(paths)} images that cannot be read '
            f"(on_bad_image='skip'):\n{report}",
            logger='current',
            level=logging.WARNING)
        return [info for info in self.data_list
                if not problems[info['img_path']]]

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Run the pipeline on sample ``idx``; an unreadable image raises
        a ``BadImageError`` naming it and its list file line."""
        return apply_pipeline(self.pipeline, self.get_data_info(idx),
                              self.locate_image)

    def locate_image(self, img_path: str) -> str:
        """``'<list file>, line <n>'`` of an image path of the dataset."""
        line = self._image_lines().get(img_path)
        if line is None:
            return str(self.ann_file)
        return f'{self.ann_file}, line {line}'

    def _image_lines(self) -> Dict[str, int]:
        """Map each image path (with prefix) to its list file line."""
        return {
            join_path(self.img_prefix, rel_path): lineno
            for lineno, rel_path, _ in iter_list_file(self.ann_file)
        }

    def _load_captions(self) -> Dict[str, Tuple[str, int]]:
        """Read the caption file into ``{normalised path: (caption, line)}``.
        """
        if not self.caption_file:
            return {}
        return {
            entry.key: (entry.caption, entry.lineno)
            for entry in iter_caption_file(self.caption_file)
        }

    @property
    def num_unlabelled(self) -> int:
        """Number of images without any label (test sets only)."""
        return sum(not self.get_data_info(i)['gt_label']
                   for i in range(len(self)))

    @property
    def num_captions(self) -> int:
        """Number of images that have a caption."""
        return sum('caption' in self.get_data_info(i)
                   for i in range(len(self)))

    @property
    def class_stats(self) -> dict:
        """Class statistics of this dataset with the default thresholds
        (head >= 100, tail < 20); see :meth:`get_class_stats`."""
        return self.get_class_stats()

    def get_class_stats(self,
                        head_thr: int = HEAD_THR,
                        tail_thr: int = TAIL_THR) -> dict:
        """Compute the class statistics of the samples of this dataset.

        Args:
            head_thr (int): head if n_i >= head_thr. Defaults to 100.
            tail_thr (int): tail if n_i < tail_thr. Defaults to 20.

        Returns:
            dict: See :func:`mmltml.structures.compute_class_stats`.
        """
        labels = [self.get_cat_ids(i) for i in range(len(self))]
        return compute_class_stats(labels, len(self.CLASSES), self.CLASSES,
                                   head_thr, tail_thr)

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        body = [
            f'Annotation file: \t{self.ann_file}',
            f'Label file: \t{self.label_file}',
            f'Caption file: \t{self.caption_file}',
            f'Prefix of images: \t{self.img_prefix}',
        ]
        if self._fully_initialized:
            body.append(f'Unlabelled images: \t{self.num_unlabelled}')
            if self.caption_file:
                body.append(f'Images with captions: \t{self.num_captions}')
            if self.on_bad_image == 'skip':
                body.append(
                    f'Skipped images: \t{len(self.skipped_images)}')
        return body
