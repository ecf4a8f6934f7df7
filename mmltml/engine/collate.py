# Copyright (c) mmltml contributors. All rights reserved.
"""A collate function whose errors name the images."""
from typing import Any, List, Sequence

import torch
from mmengine.dataset import default_collate
from mmengine.registry import FUNCTIONS


@FUNCTIONS.register_module()
def checked_collate(data_batch: Sequence[dict]) -> Any:
    """mmengine's ``default_collate`` (stack the images of a batch), with a
    clear error when the images differ in size.

    Without a ``Resize`` (or crop) in the pipeline, images of different
    sizes cannot be stacked and ``default_collate`` fails with torch's
    ``stack expects each tensor to be equal size``. Here the error is a
    ``ValueError`` that names every image of the batch with its shape.
    Floating-point inputs (cached features, float image pipelines) with a
    NaN or inf value are refused too, naming their images: they would
    only show up later as a NaN loss or NaN scores.

    Args:
        data_batch (Sequence[dict]): Samples as given by ``PackInputs``.

    Returns:
        The collated batch, as ``default_collate`` returns it.
    """
    _check_finite_inputs(data_batch)
    try:
        return default_collate(data_batch)
    except RuntimeError as error:
        shapes = _image_shapes(data_batch)
        if len({shape for _, shape in shapes}) <= 1:
            raise
        listed = '; '.join(f'{path}: {shape}' for path, shape in shapes)
        raise ValueError(
            'images of different sizes in one batch cannot be stacked; add '
            'a Resize (or crop) to the pipeline. Images (channels, height, '
            f'width): {listed}') from error


def _check_finite_inputs(data_batch: Sequence[dict]) -> None:
    """Refuse floating-point inputs with NaN / inf values, naming them."""
    bad = [path for (path, _), sample in zip(_image_shapes(data_batch),
                                             data_batch)
           if not _all_finite(sample.get('inputs')
                              if isinstance(sample, dict) else None)]
    if bad:
        raise ValueError(
            f'inputs with NaN or inf values: {", ".join(map(str, bad))} '
            '(cached features or a floating-point pipeline); rebuild the '
            'feature cache or check these images and the pipeline')


def _all_finite(inputs: Any) -> bool:
    """Whether every floating-point tensor in ``inputs`` is finite."""
    if isinstance(inputs, dict):
        return all(_all_finite(value) for value in inputs.values())
    if isinstance(inputs, torch.Tensor) and inputs.is_floating_point():
        return bool(torch.isfinite(inputs).all())
    return True


def _image_shapes(data_batch: Sequence[dict]) -> List[tuple]:
    """``(image path, shape)`` of each sample's ``inputs``."""
    shapes = []
    for idx, sample in enumerate(data_batch):
        inputs = sample.get('inputs') if isinstance(sample, dict) else None
        meta = getattr(sample.get('data_samples'), 'metainfo', {}) \
            if isinstance(sample, dict) else {}
        path = meta.get('img_path', f'sample {meta.get("sample_idx", idx)}')
        shapes.append((path, tuple(getattr(inputs, 'shape', ()))))
    return shapes
