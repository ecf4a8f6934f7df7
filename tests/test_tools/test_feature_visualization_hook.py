# Copyright (c) mmltml contributors. All rights reserved.
"""FeatureVisualizationHook draws the images of samples whose model input
were cached features, and images unchanged otherwise."""
import numpy as np
import torch
from mmpretrain.structures import DataSample
from PIL import Image

from mmltml.engine.hooks import FeatureVisualizationHook


class _Recorder:
    """Stands in for the visualizer; keeps what it is asked to draw."""

    def __init__(self):
        self.drawn = []

    def visualize_cls(self, image, data_sample, **kwargs):
        self.drawn.append((image, kwargs['name']))


def _hook(interval=1):
    from mmpretrain.visualization import UniversalVisualizer
    UniversalVisualizer.get_instance('test_feature_visualization_hook')
    hook = FeatureVisualizationHook(enable=True, interval=interval)
    hook._visualizer = _Recorder()
    return hook


def _samples(tmp_path, flips):
    rng = np.random.default_rng(0)
    samples, arrays = [], []
    for i, flip in enumerate(flips):
        rgb = rng.integers(0, 255, (6, 8, 3), np.uint8)
        path = str(tmp_path / f'{i}.png')
        Image.fromarray(rgb).save(path)
        sample = DataSample().set_gt_label([0]).set_pred_score(
            torch.tensor([0.9, 0.1]))
        sample.set_metainfo(dict(img_path=path, flip=flip))
        samples.append(sample)
        bgr = rgb[..., ::-1]  # as LoadImageFromFile reads it
        arrays.append(bgr[:, ::-1] if flip else bgr)
    return samples, arrays


def test_features_are_replaced_by_the_images(tmp_path):
    samples, expected = _samples(tmp_path, [False, True, False])
    hook = _hook(interval=2)
    batch = dict(inputs=dict(image_feats=torch.zeros(3, 16)),
                 data_samples=samples)
    hook._draw_samples(0, batch, samples)
    drawn = hook._visualizer.drawn
    assert [name for _, name in drawn] == ['0.png', '2.png']
    np.testing.assert_array_equal(drawn[0][0], expected[0])
    np.testing.assert_array_equal(drawn[1][0], expected[2])
    hook = _hook()
    hook._draw_samples(0, batch, samples)
    np.testing.assert_array_equal(hook._visualizer.drawn[1][0], expected[1])


def test_image_inputs_are_drawn_as_given(tmp_path):
    samples, _ = _samples(tmp_path, [False])
    image = torch.randint(0, 255, (3, 5, 7), dtype=torch.uint8)
    hook = _hook()
    hook._draw_samples(0, dict(inputs=[image]), samples)
    np.testing.assert_array_equal(hook._visualizer.drawn[0][0],
                                  image.permute(1, 2, 0).numpy())
