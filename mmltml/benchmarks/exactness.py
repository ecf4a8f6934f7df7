# Copyright (c) mmltml contributors. All rights reserved.
"""The benchmark's exactness check: one ``model.train_step`` from the same
state on the plain and on the optimised path gives the same logits, losses
and updated parameters, and metering the step's stages changes nothing.
"""
import copy
from typing import Dict, Tuple

import torch

from .flops import StageFlops
from .step_timing import PATHS, TRUNCATE, metered_step, text_truncation

#: Float tolerances of the plain/optimised comparison (fp32): truncation
#: and the cache change only the blocking of matrix products.
RTOL = 1e-4
ATOL_COS = 1e-5  # logits are compared at atol = ATOL_COS * logit_scale
ATOL_LOSS = 1e-5
ATOL_PARAM = 1e-7
#: The metered step is the same computation: tight relative tolerance.
RTOL_METERED = 1e-6


class MismatchError(AssertionError):
    """The plain and the optimised path (or the metered and the bare
    step) disagree."""


def compare_results(plain: dict, optimised: dict, logit_scale: float,
                    rtol: float = RTOL) -> Dict[str, dict]:
    """Max differences of every shared logit, loss and ``param:`` entry;
    raises :class:`MismatchError` where one exceeds
    ``atol + rtol * |plain|``."""
    report, failures = {}, []
    keys = [k for k in set(plain) & set(optimised)
            if k == 'logits' or k.startswith(('loss', 'param:'))]
    for key in sorted(keys):
        a = torch.as_tensor(plain[key]).detach().double()
        b = torch.as_tensor(optimised[key]).detach().double()
        atol = (ATOL_COS * logit_scale if key == 'logits' else
                ATOL_PARAM if key.startswith('param:') else ATOL_LOSS)
        if a.shape != b.shape:
            failures.append(f'{key}: shapes {tuple(a.shape)} and '
                            f'{tuple(b.shape)}')
            continue
        diff = (a - b).abs()
        ok = bool((diff <= atol + rtol * a.abs()).all())
        report[key] = dict(max_abs_diff=float(diff.max()), atol=atol,
                           rtol=rtol, ok=ok)
        if not ok:
            failures.append(f'{key}: max |diff| {float(diff.max()):.3g} '
                            f'(atol {atol:.3g}, rtol {rtol:.3g})')
    if failures:
        raise MismatchError('plain and optimised paths differ: ' +
                            '; '.join(failures))
    return report


def trainable_state(model, optim_wrapper) -> dict:
    """Copies of the trainable parameters and the optimizer state."""
    return dict(
        params={k: v.detach().clone()
                for k, v in model.named_parameters() if v.requires_grad},
        optim=copy.deepcopy(optim_wrapper.optimizer.state_dict()))


def restore_state(model, optim_wrapper, state: dict) -> None:
    """Undo the steps taken since :func:`trainable_state`."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state['params'].items():
            params[name].copy_(value)
    optim_wrapper.optimizer.load_state_dict(copy.deepcopy(state['optim']))
    optim_wrapper.zero_grad()


def step_result(model, optim_wrapper, batch: dict, truncate: bool,
                meter=None) -> dict:
    """Log variables, logits and updated trainable parameters of one
    ``model.train_step`` (metered by ``meter`` if given)."""
    captured = []
    head_loss = model.head.loss

    def capture(feats, *args, **kwargs):
        captured.append(feats)
        return head_loss(feats, *args, **kwargs)

    model.head.loss = capture
    try:
        with text_truncation(model, truncate):
            if meter is None:
                out = dict(model.train_step(batch, optim_wrapper))
            else:
                out = dict(metered_step(model, optim_wrapper, batch, meter))
    finally:
        del model.head.loss
    with torch.no_grad():  # the logits of the features the loss saw
        out['logits'] = model.head(captured[0]).detach().cpu()
    for name, param in model.named_parameters():
        if param.requires_grad:
            out[f'param:{name}'] = param.detach().cpu().clone()
    return out


def check_exactness(
        model, optim_wrapper, batches: Dict[str, dict]
) -> Tuple[Dict[str, dict], Dict[str, Dict[str, int]]]:
    """One step from the same state on each path, its stages metered in
    FLOPs, and one bare ``model.train_step`` on the optimised path; the
    state is restored after each. Compares plain with optimised and the
    metered with the bare step; returns the report and the FLOPs per
    stage of each path's step."""
    state = trainable_state(model, optim_wrapper)
    results, flops = {}, {}
    for path in PATHS:
        counter = StageFlops()
        results[path] = step_result(model, optim_wrapper, batches[path],
                                    TRUNCATE[path], counter)
        flops[path] = counter.flops
        restore_state(model, optim_wrapper, state)
    bare = step_result(model, optim_wrapper, batches['optimised'],
                       TRUNCATE['optimised'])
    restore_state(model, optim_wrapper, state)
    scale = float(model.backbone.logit_scale)
    report = dict(plain_vs_optimised=compare_results(
        results['plain'], results['optimised'], scale))
    report['staged_vs_train_step'] = compare_results(
        results['optimised'], bare, scale, rtol=RTOL_METERED)
    return report, flops
