# Copyright (c) mmltml contributors. All rights reserved.
from .collate import checked_collate  # noqa: F401
from .hooks import *  # noqa: F401,F403
from .runners import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
