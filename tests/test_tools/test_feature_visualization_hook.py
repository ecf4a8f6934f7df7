# Copyright (c) mmltml contributors. All rights reserved.
"""FeatureVisualizationHook draws the images of samples whose model input
were cached features, and image inputs, in their true colours (RGB; the
pipelines load BGR), enlarged so that the text is legible, with at most
``max_labels`` predicted classes; the saved picture's pixels are the
image's."""
import math

import numpy as np
import torch
from mmcv.transforms import LoadImageFromFile
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.structures import DataSample
from PIL import Image

from mmltml.engine.hooks import FeatureVisualizationHook


class _Recorder:
    """Stands in for the visualizer; keeps what it is asked to draw."""

    def __init__(self):
        self.drawn = []

    def visualize_cls(self, image, data_sample, **kwargs):
        self.drawn.append((image, kwargs['name'], data_sample))


def _hook(interval=1, **kwargs):
    from mmpretrain.visualization import UniversalVisualizer
    UniversalVisualizer.get_instance('test_feature_visualization_hook')
    hook = FeatureVisualizationHook(enable=True, interval=interval, **kwargs)
    hook._visualizer = _Recorder()
    return hook


def _enlarged(rgb, min_size):
    """Each pixel repeated ``ceil(min_size / short side)`` times along
    both axes (nearest-neighbour enlargement by a whole factor)."""
    factor = max(1, math.ceil(min_size / min(rgb.shape[:2])))
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


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
        arrays.append(rgb[:, ::-1] if flip else rgb)
    return samples, arrays


def test_features_are_replaced_by_the_images(tmp_path):
    samples, expected = _samples(tmp_path, [False, True, False])
    hook = _hook(interval=2)
    batch = dict(inputs=dict(image_feats=torch.zeros(3, 16)),
                 data_samples=samples)
    hook._draw_samples(0, batch, samples)
    drawn = hook._visualizer.drawn
    assert [name for _, name, _ in drawn] == ['0.png', '2.png']
    np.testing.assert_array_equal(drawn[0][0], _enlarged(expected[0], 448))
    np.testing.assert_array_equal(drawn[1][0], _enlarged(expected[2], 448))
    hook = _hook(min_size=0)
    hook._draw_samples(0, batch, samples)
    np.testing.assert_array_equal(hook._visualizer.drawn[1][0], expected[1])


def test_image_inputs_are_drawn_in_rgb_and_enlarged():
    bgr = torch.randint(0, 255, (3, 5, 7), dtype=torch.uint8)
    rgb = bgr.flip(0).permute(1, 2, 0).numpy()
    sample = DataSample().set_pred_score(torch.tensor([0.9]))
    for min_size, factor in ((0, 1), (5, 1), (6, 2), (100, 20)):
        hook = _hook(min_size=min_size)
        hook._draw_samples(0, dict(inputs=[bgr]), [sample])
        drawn = hook._visualizer.drawn[0][0]
        assert drawn.shape == (5 * factor, 7 * factor, 3)
        np.testing.assert_array_equal(drawn, _enlarged(rgb, min_size))
    hook = _hook(min_size=0, channel_order='rgb')
    hook._draw_samples(0, dict(inputs=[bgr]), [sample])
    np.testing.assert_array_equal(hook._visualizer.drawn[0][0],
                                  bgr.permute(1, 2, 0).numpy())


def test_listed_classes_are_the_best_logits():
    logits = torch.tensor([3., 9., -1., 7., 5., 8.])
    sample = DataSample().set_pred_score(logits.sigmoid())
    sample.set_pred_label(torch.tensor([0, 1, 3, 4, 5]))
    sample.set_field(logits, 'pred_logits')
    image = torch.zeros(3, 4, 4, dtype=torch.uint8)
    hook = _hook(max_labels=3)
    hook._draw_samples(0, dict(inputs=[image]), [sample])
    assert hook._visualizer.drawn[0][2].pred_label.tolist() == [1, 5, 3]
    assert sample.pred_label.tolist() == [0, 1, 3, 4, 5]  # not edited
    hook = _hook(max_labels=None)
    hook._draw_samples(0, dict(inputs=[image]), [sample])
    assert hook._visualizer.drawn[0][2] is sample


def test_saved_picture_has_the_image_colours(tmp_path):
    """The real pipeline (LoadImageFromFile, PackInputs) and visualizer:
    the bottom half of the saved PNG, below the text box, holds the image's
    RGB pixels, enlarged."""
    from mmpretrain.visualization import UniversalVisualizer
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[8:, :8] = (220, 20, 20)   # red
    rgb[8:, 8:] = (20, 20, 220)   # blue
    rgb[:8] = (20, 200, 20)       # green
    path = str(tmp_path / 'quadrants.png')
    Image.fromarray(rgb).save(path)
    packed = PackInputs()(LoadImageFromFile()(dict(img_path=path)))
    sample = packed['data_samples'].set_pred_score(torch.tensor([0.9, 0.2]))
    sample.set_gt_label([0])
    UniversalVisualizer.get_instance('test_saved_picture_colours')
    out_dir = tmp_path / 'show'
    hook = FeatureVisualizationHook(enable=True, interval=1,
                                    out_dir=str(out_dir))
    hook._draw_samples(0, dict(inputs=[packed['inputs']]), [sample])
    (saved, ) = list(out_dir.iterdir())
    picture = np.asarray(Image.open(saved).convert('RGB'))
    factor = math.ceil(448 / 16)
    assert picture.shape == (16 * factor, 16 * factor, 3)
    bottom = picture[12 * factor:]
    np.testing.assert_array_equal(bottom,
                                  _enlarged(rgb, 448)[12 * factor:])
