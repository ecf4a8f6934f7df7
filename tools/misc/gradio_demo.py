# Copyright (c) mmltml contributors. All rights reserved.
"""A demo page: upload an image, see its labels with scores and each
class's head / medium / tail group.

The model is a config with a checkpoint (its training class statistics,
stored in the checkpoint by ``ClassStatsCheckpointHook`` or read from the
config's training list file, give each class's group and training image
count) or, zero-shot, class names with an open_clip model (the names can
be edited on the page; zero-shot classes have no training statistics).
Needs the demo extra: ``pip install "mmltml[demo]"`` (Gradio).

Examples::

    python tools/misc/gradio_demo.py \
        configs/synthetic/lmpt_tinyclip_synthetic.py \
        work_dirs/lmpt/epoch_20.pth
    python tools/misc/gradio_demo.py --classes "red circle,blue star" \
        --clip-model-cfg tinyclip-synthetic \
        --clip-pretrained checkpoints/tinyclip_synthetic.pth

then open http://127.0.0.1:7860.
"""
import argparse
import html
from typing import Callable, List, NamedTuple, Optional, Sequence

import mmltml  # noqa: F401  (compat fixes, registration)
from mmengine.config import Config

from mmltml.apis import MultiLabelInferencer, ZeroShotInferencer
from mmltml.apis.zero_shot_inferencer import DEFAULT_TEMPLATES
from mmltml.datasets.categories import read_class_names_file
from mmltml.structures import split_groups
from mmltml.utils.checkpoint_stats import (config_class_stats,
                                           read_checkpoint_class_stats)

#: Group shown for classes without training statistics (zero-shot).
NO_GROUP = 'n/a'
TABLE_ID = 'mmltml-predictions'


class Row(NamedTuple):
    """One predicted class as the page shows it."""
    name: str
    logit: Optional[float]
    score: float
    group: str
    train_images: Optional[int]


def class_groups(stats: dict) -> List[str]:
    """The group of every class, by the statistics' thresholds."""
    thresholds = stats.get('thresholds') or {}
    groups = split_groups(stats['class_freq'],
                          **{f'{k}_thr': v for k, v in thresholds.items()})
    by_class = {idx: name for name, ids in groups.items() for idx in ids}
    return [by_class[idx] for idx in range(len(stats['class_freq']))]


def training_class_stats(config: Config,
                         checkpoint: Optional[str]) -> Optional[dict]:
    """The checkpoint's stored training statistics, else the config's
    (its training list file present), else None."""
    stored = read_checkpoint_class_stats(checkpoint) if checkpoint else None
    return stored if stored is not None else config_class_stats(config)


class DemoModel:
    """An inferencer and the training statistics of its classes.

    Args:
        inferencer: a :class:`MultiLabelInferencer` (or zero-shot one).
        stats: training class statistics (``class_freq``, ``thresholds``)
            or None (groups shown as ``n/a``).
        rebuild: for zero-shot models, makes the inferencer for other
            class names.
    """

    def __init__(self, inferencer: MultiLabelInferencer,
                 stats: Optional[dict] = None,
                 rebuild: Optional[Callable[[List[str]],
                                            MultiLabelInferencer]] = None
                 ) -> None:
        self.inferencer, self.stats, self.rebuild = inferencer, stats, rebuild
        self.groups = class_groups(stats) if stats else None

    @classmethod
    def from_config(cls, config: str, checkpoint: Optional[str],
                    device: Optional[str] = None) -> 'DemoModel':
        cfg = Config.fromfile(config)
        inferencer = MultiLabelInferencer(cfg, pretrained=checkpoint or False,
                                          device=device)
        return cls(inferencer, training_class_stats(cfg, checkpoint))

    @classmethod
    def zero_shot(cls, classnames: Sequence[str], device: Optional[str] = None,
                  **clip) -> 'DemoModel':
        """``clip``: ``clip_model_name``, ``clip_pretrained``,
        ``clip_model_cfg``, ``templates`` of :class:`ZeroShotInferencer`."""

        def build(names: List[str]) -> ZeroShotInferencer:
            return ZeroShotInferencer(names, device=device, **clip)

        return cls(build(list(classnames)), rebuild=build)

    @property
    def classes(self) -> List[str]:
        return list(self.inferencer.classes)

    def set_classes(self, names: List[str]) -> None:
        """Zero-shot: predict these class names from now on."""
        if names != self.classes:
            self.inferencer = self.rebuild(names)

    def predict(self, image: str, topk: int) -> List[Row]:
        """The ``topk`` classes of highest logit (score when the head has
        no logits) of an image file."""
        self.inferencer.topk = topk
        (result, ) = self.inferencer([image])
        logits = result.get('pred_label_logits',
                            [None] * len(result['pred_labels']))
        return [
            Row(self.classes[idx], logit, score,
                self.groups[idx] if self.groups else NO_GROUP,
                self.stats['class_freq'][idx] if self.stats else None)
            for idx, score, logit in zip(result['pred_labels'],
                                         result['pred_label_scores'], logits)
        ]


def render(rows: Sequence[Row]) -> str:
    """The predictions as an HTML table (``id="mmltml-predictions"``)."""
    cells = ''.join(
        '<tr class="prediction">'
        f'<td class="class">{html.escape(row.name)}</td>'
        f'<td class="logit">{"" if row.logit is None else f"{row.logit:.3f}"}'
        f'</td><td class="score">{row.score:.4f}</td>'
        f'<td class="group">{row.group}</td>'
        f'<td class="train-images">'
        f'{"" if row.train_images is None else row.train_images}</td></tr>'
        for row in rows)
    return (f'<table id="{TABLE_ID}"><thead><tr><th>class</th><th>logit</th>'
            '<th>sigmoid</th><th>group</th><th>training images</th></tr>'
            f'</thead><tbody>{cells}</tbody></table>')


def parse_names(text: str) -> List[str]:
    """Comma- or line-separated class names."""
    return [n.strip() for n in text.replace('\n', ',').split(',')
            if n.strip()]


def build_app(model: DemoModel, title: str):
    """The Gradio page of ``model``."""
    import gradio as gr
    zero_shot = model.rebuild is not None
    with gr.Blocks(title='mmltml demo') as app:
        gr.Markdown(f'## mmltml: {html.escape(title)}\n'
                    'Upload an image; the classes of highest logit are '
                    'listed with their sigmoid score and the head / medium '
                    '/ tail group of their training image count.')
        with gr.Row():
            with gr.Column():
                image = gr.Image(type='filepath', sources=['upload'],
                                 label='image', elem_id='image')
                names = gr.Textbox(
                    value=', '.join(model.classes), visible=zero_shot,
                    label='class names (comma-separated)', elem_id='names')
                topk = gr.Slider(1, max(len(model.classes), 50), value=5,
                                 step=1,
                                 label='classes shown', elem_id='topk')
                button = gr.Button('Predict', variant='primary',
                                   elem_id='predict')
            output = gr.HTML(elem_id='predictions')

        def predict(path: Optional[str], text: str, k: float) -> str:
            if not path:
                return '<p>Upload an image first.</p>'
            if zero_shot:
                model.set_classes(parse_names(text))
            return render(model.predict(path, int(k)))

        button.click(predict, [image, names, topk], output)
    return app


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    names = parser.add_mutually_exclusive_group()
    names.add_argument('--classes', help='zero-shot: comma-separated class '
                       'names (instead of a config)')
    names.add_argument('--classes-file', help='zero-shot: file of class '
                       'names, one per line, or a dataset label file')
    parser.add_argument('--clip-model', help='zero-shot: open_clip model '
                        'name')
    parser.add_argument('--clip-model-cfg', help='zero-shot: built-in CLIP '
                        'config name (tinyclip-synthetic)')
    parser.add_argument('--clip-pretrained', help='zero-shot: pretrained '
                        'tag or weights file')
    parser.add_argument('--template', action='append', dest='templates',
                        help='zero-shot: prompt template (repeatable)')
    parser.add_argument('--device', default=None, help='e.g. cuda:0')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    args = parser.parse_args(argv)
    if (args.config is None) == (args.classes is None
                                 and args.classes_file is None):
        parser.error('give a config (and a checkpoint) or --classes / '
                     '--classes-file')
    return args


def load_model(args: argparse.Namespace) -> DemoModel:
    if args.config is not None:
        return DemoModel.from_config(args.config, args.checkpoint,
                                     args.device)
    names = (read_class_names_file(args.classes_file)
             if args.classes_file else parse_names(args.classes))
    return DemoModel.zero_shot(
        names, device=args.device, clip_model_name=args.clip_model,
        clip_model_cfg=args.clip_model_cfg,
        clip_pretrained=args.clip_pretrained,
        templates=args.templates or DEFAULT_TEMPLATES)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    model = load_model(args)
    title = (f'{args.config} {args.checkpoint or ""}' if args.config else
             f'zero-shot {args.clip_model or args.clip_model_cfg}')
    build_app(model, title).launch(server_name=args.host,
                                   server_port=args.port)


if __name__ == '__main__':
    main()
