# Copyright (c) mmltml contributors. All rights reserved.
from .base_text_embeds import BaseTextEmbeds
from .class_text_embeds import ClassTextEmbeds
from .clip_class_text_embeds import CLIPClassTextEmbeds
from .file_text_embeds import FileTextEmbeds
from .random_text_embeds import RandomTextEmbeds

__all__ = [
    'BaseTextEmbeds', 'ClassTextEmbeds', 'CLIPClassTextEmbeds',
    'FileTextEmbeds', 'RandomTextEmbeds'
]
