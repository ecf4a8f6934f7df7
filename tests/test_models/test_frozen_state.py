# Copyright (c) mmltml contributors. All rights reserved.
"""exclude_from_checkpoints: a rebuilt frozen submodule is left out of
checkpoints without hiding any other missing key."""
import pytest
import torch
import torch.nn as nn
from mmengine.runner.checkpoint import load_state_dict

from mmltml.models.utils.frozen_state import exclude_from_checkpoints


class Holder(nn.Module):

    def __init__(self, exclude: bool) -> None:
        super().__init__()
        self.frozen = nn.Linear(2, 2)
        self.head = nn.Linear(2, 2)
        if exclude:
            exclude_from_checkpoints(self, 'frozen')


class Two(nn.Module):
    """The same child names in a saved and in an excluding module."""

    def __init__(self) -> None:
        super().__init__()
        self.b = Holder(exclude=False)
        self.a = Holder(exclude=True)


def test_excluded_keys_are_dropped_and_restored_from_the_module():
    torch.manual_seed(0)
    model = Two()
    state = model.state_dict()
    assert {k.rsplit('.', 1)[0] for k in state} == {'b.frozen', 'b.head',
                                                    'a.head'}
    torch.manual_seed(1)
    other = Two()
    own_frozen = other.a.frozen.weight.detach().clone()
    other.load_state_dict(state, strict=True)
    load_state_dict(other, state, strict=True)  # mmengine's loader
    torch.testing.assert_close(other.a.head.weight, model.a.head.weight)
    torch.testing.assert_close(other.b.frozen.weight, model.b.frozen.weight)
    torch.testing.assert_close(other.a.frozen.weight, own_frozen)  # kept


@pytest.mark.parametrize('loader', ['torch', 'mmengine'])
def test_same_named_saved_weights_are_still_required(loader):
    """``b.frozen`` is saved: missing from a checkpoint, it must be
    reported although ``a.frozen`` has the same relative names."""
    state = Two().state_dict()
    del state['b.frozen.weight']
    with pytest.raises(RuntimeError, match=r'b\.frozen\.weight'):
        if loader == 'torch':
            Two().load_state_dict(state, strict=True)
        else:
            load_state_dict(Two(), state, strict=True)
