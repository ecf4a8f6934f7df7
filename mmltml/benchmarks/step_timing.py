# Copyright (c) mmltml contributors. All rights reserved.
"""Stages of ``model.train_step`` of a CLIP-prompt classifier, metered.

The step is the model's own ``train_step``; while it runs, the methods
that make up each stage are wrapped so that a meter (wall time here, FLOPs
in :mod:`mmltml.benchmarks.flops`) is charged to the stage:

* ``image``: the data preprocessor and ``backbone.encode_image``;
* ``text``: ``backbone.class_text_features`` (prompts, text tower);
* ``loss``: the rest of ``model.loss`` (caption embeddings, ``head.loss``)
  and ``model.parse_losses``;
* ``backward_step``: ``optim_wrapper.update_params``.

Stages nest (``encode_image`` runs inside ``model.loss``): a meter charges
each interval to the innermost open stage only.
"""
import statistics
import time
from contextlib import ExitStack, contextmanager
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple)

import torch

STAGES = ('image', 'text', 'loss', 'backward_step')
#: The two paths of the benchmark and whether each truncates the text.
PATHS = ('plain', 'optimised')
TRUNCATE = dict(plain=False, optimised=True)


class StageMeter:
    """Accumulates a monotonic reading (``read()``) per named stage.

    Use as ``with meter('name'): ...``; an interval belongs to the
    innermost open stage, so nested stages are not counted twice. The sum
    of :attr:`totals` is the reading over the outermost stages.
    """

    def __init__(self, read: Callable[[], float]) -> None:
        self.read = read
        self.totals: Dict[str, float] = {}
        self._open: List[str] = []
        self._mark = 0.0

    def _charge(self) -> None:
        now = self.read()
        if self._open:
            name = self._open[-1]
            self.totals[name] = self.totals.get(name, 0) + now - self._mark
        self._mark = now

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self._charge()
        self._open.append(name)
        try:
            yield
        finally:
            self._charge()
            self._open.pop()


class StageTimer(StageMeter):
    """Wall-clock milliseconds per stage (CUDA-synchronised)."""

    def __init__(self, device: torch.device) -> None:
        cuda = device.type == 'cuda'

        def read() -> float:
            if cuda:
                torch.cuda.synchronize(device)
            return time.perf_counter() * 1e3

        super().__init__(read)

    @property
    def ms(self) -> Dict[str, float]:
        return self.totals


def _stage_methods(model,
                   optim_wrapper) -> Sequence[Tuple[object, str, str]]:
    """``(object, method name, stage)`` of every metered method."""
    return ((model.data_preprocessor, 'forward', 'image'),
            (model.backbone, 'encode_image', 'image'),
            (model.backbone, 'class_text_features', 'text'),
            (model, 'loss', 'loss'), (model, 'parse_losses', 'loss'),
            (optim_wrapper, 'update_params', 'backward_step'))


def _metered(method: Callable, meter: StageMeter, stage: str) -> Callable:

    def wrapper(*args, **kwargs):
        with meter(stage):
            return method(*args, **kwargs)

    return wrapper


@contextmanager
def metered_stages(model, optim_wrapper, meter: StageMeter,
                   methods: Optional[Sequence[Tuple[object, str, str]]] = None
                   ) -> Iterator[None]:
    """Charge ``meter`` per stage while ``model.train_step`` runs inside
    (instance attributes shadow the methods; removed on exit).
    ``methods``: ``(object, method name, stage)`` triples; default: the
    CLIP-prompt stages."""
    if methods is None:
        methods = _stage_methods(model, optim_wrapper)
    with ExitStack() as stack:
        for owner, name, stage in methods:
            method = getattr(owner, name)
            if name in vars(owner):  # already an instance attribute
                stack.callback(setattr, owner, name, method)
            else:
                stack.callback(delattr, owner, name)
            setattr(owner, name, _metered(method, meter, stage))
        yield


@contextmanager
def text_truncation(model, truncate: bool) -> Iterator[None]:
    """Set ``backbone.truncate_text`` for the block."""
    backbone = model.backbone
    old, backbone.truncate_text = backbone.truncate_text, truncate
    try:
        yield
    finally:
        backbone.truncate_text = old


def metered_step(model, optim_wrapper, batch: dict,
                 meter: StageMeter) -> dict:
    """``model.train_step(batch, optim_wrapper)`` with ``meter`` charged
    per stage; returns its log variables."""
    with metered_stages(model, optim_wrapper, meter):
        return model.train_step(batch, optim_wrapper)


def time_paths(model, optim_wrapper, batches: Dict[str, dict], iters: int,
               device: torch.device,
               log: Callable[[str], None] = lambda _: None
               ) -> Dict[str, List[Dict[str, float]]]:
    """Timed steps (ms per stage and ``total``), alternating the paths so
    both see the same load."""
    samples: Dict[str, List[Dict[str, float]]] = {p: [] for p in PATHS}
    for _ in range(iters):
        for path in PATHS:
            timer = StageTimer(device)
            with text_truncation(model, TRUNCATE[path]), timer('other'):
                metered_step(model, optim_wrapper, batches[path], timer)
            ms = {k: timer.ms.get(k, 0.0) for k in STAGES}
            ms['total'] = sum(timer.ms.values())
            samples[path].append(ms)
        log('step: ' + ', '.join(f'{p} {samples[p][-1]["total"]:.0f} ms'
                                 for p in PATHS))
    return samples


def summarise(samples: List[Dict[str, float]], batch_size: int) -> dict:
    """Median ms per stage and in total, every total, the fastest one and
    images per second (of the median total)."""
    keys = list(STAGES) + ['total']
    med = {f'{k}_ms': statistics.median(s[k] for s in samples)
           for k in keys}
    med['total_ms_all'] = [round(s['total'], 3) for s in samples]
    med['total_ms_min'] = min(s['total'] for s in samples)
    med['images_per_s'] = batch_size / med['total_ms'] * 1e3
    return med
