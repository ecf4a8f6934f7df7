# Copyright (c) mmltml contributors. All rights reserved.
"""tests/conftest.py restores mmengine's default scope after each test
(the two tests below run in this order)."""
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS


def test_a_runner_like_scope_change():
    DefaultScope.get_instance('leaky-test', scope_name='mmengine')
    assert DefaultScope.get_current_instance().scope_name == 'mmengine'


def test_the_next_test_does_not_inherit_it():
    current = DefaultScope.get_current_instance()
    assert current is None or current.instance_name != 'leaky-test'
    neck = MODELS.build(dict(type='LinearNeck', in_channels=4,
                             out_channels=2, gap_dim=0))
    assert type(neck).__name__ == 'LinearNeck'
