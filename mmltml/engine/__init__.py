# Copyright (c) mmltml contributors. All rights reserved.
from .hooks import *  # noqa: F401,F403
from .runners import *  # noqa: F401,F403
