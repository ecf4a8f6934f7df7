# Copyright (c) mmltml contributors. All rights reserved.
"""CSELoss against an explicit per-pair / per-position float64 computation.

The reference loops over images, classes and token positions with
``F.cosine_similarity`` on single vectors; the module uses normalised
embeddings and one einsum. Published constants (LMPT Eqs. 4-7 with
eta = gamma = 1) are checked on the COCO-LT / VOC-LT counts of the official
split files (``ltml_counts.py``).
"""
import pytest
import torch
import torch.nn.functional as F

from mmltml.models.losses import CSELoss

COCO_FREQ = [
    1128, 37, 276, 32, 9, 41, 18, 87, 20, 50, 11, 13, 8, 97, 19, 49, 70, 17,
    7, 10, 8, 6, 7, 7, 100, 39, 189, 31, 24, 11, 12, 8, 35, 10, 25, 21, 17,
    10, 20, 460, 84, 498, 126, 207, 173, 366, 39, 35, 44, 36, 29, 25, 14, 45,
    16, 73, 585, 153, 164, 44, 624, 25, 200, 137, 70, 89, 73, 127, 91, 175, 9,
    237, 119, 292, 87, 113, 15, 21, 6, 11
]
VOC_FREQ = [
    6, 34, 8, 14, 154, 17, 249, 29, 479, 4, 240, 48, 11, 20, 775, 100, 5, 82,
    7, 64
]
FREQ = [2, 50, 7, 300]
B, C, L, D = 5, len(FREQ), 6, 8


def ref_distance(prompt, caption, mask, position_reduction):
    """Delta[k][i] with explicit loops."""
    rows = []
    for k in range(caption.size(0)):
        row = []
        for i in range(prompt.size(0)):
            if caption.dim() == 2:
                row.append(1 - F.cosine_similarity(caption[k], prompt[i],
                                                   dim=0).item())
                continue
            dists = [
                1 - F.cosine_similarity(caption[k, p], prompt[i, p],
                                        dim=0).item()
                for p in range(caption.size(1))
                if mask is None or bool(mask[k, p])
            ]
            total = sum(dists)
            row.append(total if position_reduction == 'sum' else total /
                       len(dists))
        rows.append(row)
    return rows


def ref_cse(delta, labels, freq, soft_margin, eta, margin, reweight, gamma):
    """Mean over images of the per-image sum; and the active fraction."""
    inv = [n**-gamma for n in freq]
    per_image, active, negatives = [], 0, 0
    for k, row in enumerate(delta):
        total = 0.0
        for i, d in enumerate(row):
            mu = eta * freq[i]**-0.25 if soft_margin else margin
            w = inv[i] / sum(inv) if reweight else 1.0
            if labels[k][i] == 1:
                total += w * d
            else:
                total += max(0.0, w * (mu - d))
                negatives += 1
                active += mu > d
        per_image.append(total)
    return per_image, active / negatives


def _inputs(kind, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (D, ) if kind == 'embedding' else (L, D)
    prompt = torch.randn(C, *shape, generator=gen, dtype=torch.float64)
    # captions near some prompts so that positive and negative hinges mix
    caption = torch.randn(B, *shape, generator=gen, dtype=torch.float64)
    caption = caption + 1.5 * prompt[torch.arange(B) % C]
    labels = (torch.rand(B, C, generator=gen) < 0.4).to(torch.float64)
    mask = None
    if kind == 'token_masked':
        mask = torch.rand(B, L, generator=gen) < 0.6
        mask[:, 0] = True
    return prompt, caption, labels, mask


KINDS = ['embedding', 'token', 'token_masked']
SWITCHES = [(False, False), (True, False), (True, True), (False, True)]


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('switches', SWITCHES)
@pytest.mark.parametrize('position_reduction', ['mean', 'sum'])
def test_matches_reference(kind, switches, position_reduction):
    soft_margin, reweight = switches
    gamma = 0.8
    # margins that keep a mix of active and inactive hinges; a summed token
    # distance is about L times a mean one
    token_sum = position_reduction == 'sum' and kind != 'embedding'
    margin, eta = (5.0, 9.0) if token_sum else (0.9, 1.7)
    loss_fn = CSELoss(class_freq=FREQ, soft_margin=soft_margin, eta=eta,
                      margin=margin, reweight=reweight, gamma=gamma,
                      position_reduction=position_reduction,
                      reduction='none')
    prompt, caption, labels, mask = _inputs(kind, seed=len(kind))
    delta = ref_distance(prompt, caption, mask, position_reduction)
    per_image, fraction = ref_cse(delta, labels.tolist(), FREQ, soft_margin,
                                  eta, margin, reweight, gamma)
    got = loss_fn(prompt, caption, labels, caption_mask=mask)
    assert got.dtype == torch.float64 and got.shape == (B, )
    assert torch.allclose(got, torch.tensor(per_image, dtype=torch.float64),
                          rtol=1e-10, atol=1e-12)
    assert 0 < fraction < 1  # the data exercises both hinge branches
    same, stats = loss_fn(prompt, caption, labels, caption_mask=mask,
                          return_stats=True)
    assert torch.equal(same, got)
    assert stats['active_neg'].item() == pytest.approx(fraction)
    mean_fn = CSELoss(class_freq=FREQ, soft_margin=soft_margin, eta=eta,
                      margin=margin, reweight=reweight, gamma=gamma,
                      position_reduction=position_reduction)
    expected = sum(per_image) / B
    assert mean_fn(prompt, caption, labels, mask).item() == pytest.approx(
        expected, rel=1e-10)
    got32 = mean_fn(prompt.float(), caption.float(), labels, mask)
    assert got32.dtype == torch.float32
    assert got32.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_gradcheck(kind):
    loss_fn = CSELoss(class_freq=FREQ, eta=1.7)
    prompt, caption, labels, mask = _inputs(kind, seed=3)
    prompt.requires_grad_(True)
    caption.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda p, c: loss_fn(p, c, labels, mask), (prompt, caption),
        fast_mode=kind != 'embedding')


def test_unmasked_equals_all_true_mask_and_sum_is_L_times_mean():
    prompt, caption, labels, _ = _inputs('token', seed=4)
    kwargs = dict(class_freq=FREQ, reweight=False, soft_margin=False,
                  margin=100.0, reduction='none')
    mean_fn = CSELoss(**kwargs)
    full = torch.ones(B, L, dtype=torch.bool)
    assert torch.allclose(
        mean_fn(prompt, caption, labels),
        mean_fn(prompt, caption, labels, caption_mask=full))
    # with every hinge active the loss is linear in Delta; check the scale
    sum_fn = CSELoss(position_reduction='sum', **kwargs)
    pos = labels.sum(1)
    neg = C - pos
    mean_loss = mean_fn(prompt, caption, labels)
    sum_loss = sum_fn(prompt, caption, labels)
    # pos * Delta + neg * (100 - Delta) terms: remove the margin part
    assert torch.allclose(sum_loss - 100.0 * neg,
                          L * (mean_loss - 100.0 * neg))


def test_table3_rows_and_statistics():
    prompt, caption, labels, _ = _inputs('embedding', seed=5)
    plain = CSELoss(soft_margin=False, reweight=False, margin=0.2)
    assert plain.class_freq is None  # the plain embedding loss needs no n_i
    assert torch.isfinite(plain(prompt, caption, labels))
    with pytest.raises(ValueError, match='needs class_freq'):
        CSELoss(reweight=False)
    with pytest.raises(ValueError, match=r'classes \[2\] have no training'):
        CSELoss(class_freq=[3, 4, 0, 9])
    with pytest.raises(ValueError, match=r'classes \[2\] have no training'):
        CSELoss(class_freq=[3, 4, 0, 9], soft_margin=False)
    via_stats = CSELoss(class_stats=dict(class_freq=FREQ))
    direct = CSELoss(class_freq=FREQ)
    assert torch.equal(via_stats(prompt, caption, labels),
                       direct(prompt, caption, labels))


def test_shape_and_mask_errors():
    loss_fn = CSELoss(class_freq=FREQ)
    prompt, caption, labels, mask = _inputs('token_masked', seed=6)
    with pytest.raises(ValueError, match='token-level'):
        loss_fn(prompt[:, 0], caption[:, 0], labels, mask)
    empty = mask.clone()
    empty[2] = False
    with pytest.raises(ValueError, match=r'captions \[2\] have no position'):
        loss_fn(prompt, caption, labels, empty)
    with pytest.raises(ValueError, match='bool'):
        loss_fn(prompt, caption, labels, mask.float())
    with pytest.raises(ValueError, match='labels'):
        loss_fn(prompt, caption, labels.t())
    with pytest.raises(ValueError, match='differ'):
        loss_fn(prompt, caption[:, :-1], labels)
    with pytest.raises(ValueError, match='class_freq has'):
        loss_fn(prompt[:-1], caption, labels[:, :-1])


def test_no_negatives_fraction_is_zero():
    prompt, caption, _, _ = _inputs('embedding', seed=7)
    loss_fn = CSELoss(class_freq=FREQ)
    _, stats = loss_fn(prompt.requires_grad_(), caption, torch.ones(B, C),
                       return_stats=True)
    assert stats['active_neg'].item() == 0
    assert not stats['active_neg'].requires_grad
    assert not hasattr(loss_fn, 'last_active_negative_fraction')


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_loss_weight_scales_every_reduction(reduction):
    prompt, caption, labels, _ = _inputs('embedding', seed=11)
    plain = CSELoss(class_freq=FREQ, reduction=reduction)
    weighted = CSELoss(class_freq=FREQ, reduction=reduction, loss_weight=2.5)
    torch.testing.assert_close(weighted(prompt, caption, labels),
                               2.5 * plain(prompt, caption, labels))


def test_inputs_unchanged_half_autocast_meta():
    loss_fn = CSELoss(class_freq=FREQ)
    prompt, caption, labels, mask = _inputs('token_masked', seed=8)
    prompt, caption = prompt.float(), caption.float()
    before = [t.clone() for t in (prompt, caption, labels, mask)]
    ref = loss_fn(prompt, caption, labels, mask)
    for new, old in zip((prompt, caption, labels, mask), before):
        assert torch.equal(new, old)
    for dtype in (torch.float16, torch.bfloat16):
        p_low, c_low = prompt.to(dtype), caption.to(dtype)
        got = loss_fn(p_low, c_low, labels.long(), mask)
        assert got.dtype == torch.float32
        assert torch.equal(got,
                           loss_fn(p_low.float(), c_low.float(), labels, mask))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss_fn(prompt, caption, labels, mask)
    assert got.dtype == torch.float32 and torch.equal(got, ref)
    meta_fn = loss_fn.to('meta')
    assert meta_fn.class_freq.device.type == 'meta'
    out = meta_fn(
        prompt.to('meta'), caption.to('meta'), labels.to('meta'))
    assert out.device.type == 'meta' and out.dtype == torch.float32


def test_published_constants_on_real_counts():
    """LMPT with eta = gamma = 1: the published ranges of margins and
    weights."""
    for freq, mu_range, w_range in (
            (COCO_FREQ, (0.173, 0.639), (0.00025, 0.0476)),
            (VOC_FREQ, (0.190, 0.707), (0.0010, 0.193))):
        loss_fn = CSELoss(class_freq=freq)
        mu = loss_fn.class_margin(torch.float64, torch.device('cpu'))
        w = loss_fn.class_weight(torch.float64, torch.device('cpu'))
        assert (mu.min().item(), mu.max().item()) == pytest.approx(
            mu_range, abs=1e-3)
        assert (w.min().item(), w.max().item()) == pytest.approx(
            w_range, rel=2e-2)
        assert w.sum().item() == pytest.approx(1.0)
        # the weights do not depend on the scale of the counts
        scaled = CSELoss(class_freq=[3 * n for n in freq]).class_weight(
            torch.float64, torch.device('cpu'))
        assert torch.allclose(w, scaled)


def test_large_token_batch_is_closed_form():
    """Real sizes (C=80, L=77, D=512) against a per-class computation."""
    torch.manual_seed(0)
    prompt = torch.randn(80, 77, 512)
    caption = torch.randn(16, 77, 512)
    caption[:8] = prompt[:8] + 0.5 * caption[:8]  # close to their class
    labels = (torch.rand(16, 80) < 0.05).float()
    eta = 40.0
    loss_fn = CSELoss(class_freq=COCO_FREQ, eta=eta,
                      position_reduction='sum')
    got = loss_fn(prompt, caption, labels)
    # one class at a time: Delta[:, i] = sum_p (1 - cos(T_kp, O_ip))
    cap_unit = caption / caption.norm(dim=-1, keepdim=True)
    prompt_unit = prompt / prompt.norm(dim=-1, keepdim=True)
    delta = torch.stack([(1 - (cap_unit * prompt_unit[i]).sum(-1)).sum(-1)
                         for i in range(80)], dim=1)
    freq = torch.tensor(COCO_FREQ, dtype=torch.float32)
    mu, w = eta * freq**-0.25, freq**-1 / (freq**-1).sum()
    expected = (labels * w * delta +
                (1 - labels) * w * (mu - delta).clamp(min=0)).sum(1).mean()
    assert got.item() == pytest.approx(expected.item(), rel=1e-4)
    fraction = ((1 - labels) * (mu > delta)).sum() / (1 - labels).sum()
    assert 0 < fraction.item() < 1
    _, stats = loss_fn(prompt, caption, labels, return_stats=True)
    assert stats['active_neg'].item() == pytest.approx(fraction.item())
