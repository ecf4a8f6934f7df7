# Copyright (c) mmltml contributors. All rights reserved.
