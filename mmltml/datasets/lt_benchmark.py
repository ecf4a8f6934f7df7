# Copyright (c) mmltml contributors. All rights reserved.
from typing import Optional

from .lt_multi_label import LTMultiLabelDataset


class LTBenchmarkDataset(LTMultiLabelDataset):
    """Base of the benchmark presets: files named ``{FILE_PREFIX}_{split}.txt``
    and ``{FILE_PREFIX}_captions.txt`` under ``data_root``.

    Subclasses set ``METAINFO`` (class names) and ``FILE_PREFIX``; see
    :class:`COCOLTDataset` for the arguments.
    """

    FILE_PREFIX = ''

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = '',
                 with_captions: bool = False,
                 caption_file: str = '',
                 test_mode: Optional[bool] = None,
                 **kwargs):
        splits = ('train', 'test')
        if split not in splits:
            raise ValueError(f'split must be one of {splits}, got {split!r}')
        if with_captions and split != 'train':
            raise ValueError('captions exist only for the train split')
        self.split = split
        if with_captions and not caption_file:
            caption_file = f'{self.FILE_PREFIX}_captions.txt'
        if caption_file:
            kwargs.setdefault('require_captions', with_captions)
        super().__init__(
            ann_file=ann_file or f'{self.FILE_PREFIX}_{split}.txt',
            data_root=data_root,
            caption_file=caption_file or None,
            test_mode=split == 'test' if test_mode is None else test_mode,
            **kwargs)
