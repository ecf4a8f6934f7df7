# Copyright (c) mmltml contributors. All rights reserved.
"""The eval-mode memo of CLIPPromptBackbone.class_text_features."""
import torch
from mmpretrain.registry import MODELS

import mmltml  # noqa: F401

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
    text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2,
                  layers=1))


def _backbone():
    torch.manual_seed(0)
    return MODELS.build(dict(type='CLIPPromptBackbone',
                             classnames=['cat', 'traffic light', 'dog'],
                             clip_model_cfg=TINY,
                             prompt_learner=dict(n_ctx=3)))


def _count_text_runs(model):
    calls = []
    model.clip.ln_final.register_forward_hook(
        lambda *args: calls.append(1))
    return calls


def test_eval_text_features_encoded_once_and_exact():
    model = _backbone().eval()
    calls = _count_text_runs(model)
    with torch.no_grad():
        first, _ = model.class_text_features()
        second, _ = model.class_text_features()
    assert len(calls) == 1 and second is first
    model.truncate_text = False  # another setting: encoded again, equal
    with torch.no_grad():
        full, _ = model.class_text_features()
    assert len(calls) == 2
    torch.testing.assert_close(full, first, atol=1e-6, rtol=1e-5)


def test_memo_invalidated_by_updates_and_unused_in_training():
    model = _backbone()
    calls = _count_text_runs(model)
    optimizer = torch.optim.SGD(model.prompt_learner.parameters(), lr=10.,
                                momentum=0.9)
    model.eval()
    with torch.no_grad():
        before, _ = model.class_text_features()
    model.train()
    feats, _ = model.class_text_features()  # training: always encoded
    assert feats.requires_grad and len(calls) == 2
    feats.sum().backward()
    optimizer.step()  # in-place update of the prompts
    model.eval()
    with torch.no_grad():
        after, _ = model.class_text_features()
        again, _ = model.class_text_features()
    assert len(calls) == 3 and again is after
    assert not torch.allclose(after, before)
    model.prompt_learner.load_state_dict(
        {'ctx': torch.zeros_like(model.prompt_learner.ctx)}, strict=False)
    with torch.no_grad():
        reloaded, _ = model.class_text_features()
    assert len(calls) == 4 and not torch.allclose(reloaded, after)
    with torch.enable_grad():  # grad mode: never served from the memo
        model.class_text_features()
    assert len(calls) == 5


def test_memo_dropped_by_loading_moving_and_mode_switches():
    """What the prompt values cannot tell: new frozen weights loaded (here
    the token embedding; by torch's and mmengine's ``load_state_dict``),
    a cast or move, a train/eval switch."""
    from mmengine.runner.checkpoint import load_state_dict
    model = _backbone().eval()
    calls = _count_text_runs(model)

    def encode():
        with torch.no_grad():
            return model.class_text_features()[0]

    first = encode()
    assert encode() is first and len(calls) == 1
    with torch.no_grad():  # an in-place edit of the prompts, in eval mode
        model.prompt_learner.ctx.add_(1.0)
    assert len(calls) == 1 and not torch.allclose(encode(), first)
    with torch.no_grad():
        model.prompt_learner.ctx.sub_(1.0)
    torch.testing.assert_close(encode(), first)
    assert len(calls) == 3
    first = encode()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state['clip.token_embedding.weight'] += 0.5
    model.load_state_dict(state)
    loaded = encode()
    assert len(calls) == 4 and not torch.allclose(loaded, first)
    state['clip.token_embedding.weight'] -= 0.5
    load_state_dict(model, state)  # mmengine's loader (checkpoints)
    torch.testing.assert_close(encode(), first)
    assert len(calls) == 5
    model.double()
    assert encode().dtype == torch.float32 and len(calls) == 6
    model.float()
    torch.testing.assert_close(encode(), first)
    assert len(calls) == 7
    model.train()
    model.eval()
    assert encode() is not first and len(calls) == 8


def test_caption_features_do_not_depend_on_batch_grouping():
    """A caption's cached feature is the same whichever captions shared
    its first batch (a run and its resumed copy group them differently);
    before, batched products rounded differently (about 1e-6 here)."""
    captions = [f'a photo of {i} cats and a dog number {7 * i}'
                for i in range(40)]
    straight, resumed = _backbone(), _backbone()
    with torch.no_grad():
        first = straight.encode_captions(captions)
        resumed.encode_captions(captions[:5])  # met before the "resume"
        second = resumed.encode_captions(captions)
        alone = torch.cat([straight.encode_texts([c]) for c in captions])
    assert torch.equal(first, second)
    assert torch.equal(first, alone)
