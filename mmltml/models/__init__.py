# Copyright (c) mmltml contributors. All rights reserved.
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .head_inputs import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .text_embeds import *  # noqa: F401,F403
from .tta import *  # noqa: F401,F403
