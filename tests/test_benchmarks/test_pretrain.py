# Copyright (c) mmltml contributors. All rights reserved.
"""The parts of tools/misc/pretrain_tiny_clip.py in mmltml.benchmarks: the
positives mask, the contrastive loss against CLIP's cross-entropy form,
and the mmengine step against a plain torch step."""
import copy
import math

import open_clip
import torch
import torch.nn.functional as F

from mmltml.benchmarks.contrastive import (ContrastiveCLIP,
                                           build_optim_wrapper,
                                           contrastive_loss)
from mmltml.benchmarks.pretrain_pairs import PairPool, positives


def test_positives_mask():
    """Image labels {0}, {0, 1}, {1} on backgrounds 0, 1, 0; captions: a
    scene caption naming class 0 (any background), a mention of class 0,
    and a scene caption naming class 1 on background 0."""
    pool = PairPool(images=torch.zeros(3, 3, 1, 1, dtype=torch.uint8),
                    labels=torch.tensor([[1., 0.], [1., 1.], [0., 1.]]),
                    backgrounds=torch.tensor([0, 1, 0]), objects=[])
    named = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])
    mask = positives(pool, torch.arange(3), named,
                     background=torch.tensor([-1, -1, 0]),
                     complete=torch.tensor([True, False, True]))
    assert mask.tolist() == [[True, True, False],
                             [False, True, False],
                             [False, False, True]]


def test_contrastive_loss_is_clip_loss_with_one_positive():
    logits = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    target = torch.arange(5)
    clip_loss = (F.cross_entropy(logits, target) +
                 F.cross_entropy(logits.t(), target)) / 2
    assert torch.allclose(contrastive_loss(logits, torch.eye(5, dtype=bool)),
                          clip_loss)
    # two positives in row 0: its image term is the mean of both
    mask = torch.eye(5, dtype=bool)
    mask[0, 1] = True
    log_p = F.log_softmax(logits, 1)
    log_q = F.log_softmax(logits.t(), 1)
    image = torch.stack([-(log_p[0, 0] + log_p[0, 1]) / 2] +
                        [-log_p[i, i] for i in range(1, 5)]).mean()
    text = torch.stack([-log_q[0, 0], -(log_q[1, 0] + log_q[1, 1]) / 2] +
                       [-log_q[i, i] for i in range(2, 5)]).mean()
    assert torch.allclose(contrastive_loss(logits, mask), (image + text) / 2)


def _tiny_clip() -> torch.nn.Module:
    torch.manual_seed(0)
    clip = open_clip.CLIP(
        embed_dim=16,
        vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=32),
        text_cfg=dict(context_length=8, vocab_size=64, width=16, heads=2,
                      layers=1))
    with torch.no_grad():
        clip.logit_scale.fill_(5.0)  # above log(100): the clamp acts
    return clip


def test_mmengine_step_is_the_plain_torch_step():
    """ContrastiveCLIP.train_step through an OptimWrapper gives the same
    parameters, bit for bit, as zero_grad / backward / step / clamp."""
    generator = torch.Generator().manual_seed(1)
    batches = [
        dict(images=torch.randn(4, 3, 32, 32, generator=generator),
             tokens=torch.randint(1, 64, (4, 8), generator=generator),
             positives=torch.eye(4, dtype=bool)) for _ in range(3)
    ]
    model = ContrastiveCLIP(_tiny_clip())
    reference = copy.deepcopy(model.clip)
    optim_wrapper, scheduler = build_optim_wrapper(
        model.clip, steps=3, lr=1e-3, weight_decay=0.1, warmup=2)
    optimizer, ref_scheduler = build_optim_wrapper(
        reference, steps=3, lr=1e-3, weight_decay=0.1, warmup=2)
    optimizer = optimizer.optimizer
    for batch in batches:
        log_vars = model.train_step(batch, optim_wrapper)
        scheduler.step()
        image, text, scale = reference(batch['images'], batch['tokens'])
        loss = contrastive_loss(scale * image @ text.t(), batch['positives'])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ref_scheduler.step()
        with torch.no_grad():
            reference.logit_scale.clamp_(0, math.log(100))
        assert torch.equal(log_vars['loss'].detach(), loss.detach())
        if batch is batches[0]:  # one step of lr 5e-4 from 5.0: clamped
            assert model.clip.logit_scale.item() == torch.tensor(
                math.log(100)).item()
    for (name, a), b in zip(model.clip.state_dict().items(),
                            reference.state_dict().values()):
        assert torch.equal(a, b), name
