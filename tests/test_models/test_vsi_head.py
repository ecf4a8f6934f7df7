# Copyright (c) mmltml contributors. All rights reserved.
"""CPRFL's VSI head against hand-written math and a tiny open_clip model."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmltml  # noqa: F401
from mmltml.models.utils.clip_loader import build_clip_and_tokenizer
from mmltml.models.utils.vsi_block import VSIBlock

TINY_CLIP = dict(
    embed_dim=32,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=16, image_size=32),
    text_cfg=dict(
        context_length=16, vocab_size=49408, width=32, heads=2, layers=1))
NAMES = ['cat', 'traffic_light', 'teddy bear']
BCE = dict(type='CrossEntropyLoss', use_sigmoid=True)
SMALL = dict(embed_dims=64, num_heads=2, head_dims=16, mlp_dims=48)


def build_head(num_classes=3, in_channels=24, text_dims=20, seed=0, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(
        type='VSIHead',
        num_classes=num_classes,
        in_channels=in_channels,
        loss=BCE,
        **SMALL)
    if 'text_embeds' not in kwargs:
        cfg['text_embeds'] = torch.randn(num_classes, text_dims)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(labels):
    return [DataSample().set_gt_label(label) for label in labels]


# --------------------------------------------------------------------------
# The VSI block written out by hand (float64).


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean)**2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def manual_vsi(sd, tokens, heads, head_dims, residual=False):
    """Pre-norm attention + FFN; rows of to_qkv are [q; k; v]."""
    batch, num, _ = tokens.shape
    x = layer_norm(tokens, sd['norm1.weight'], sd['norm1.bias'])
    q, k, v = (x @ sd['to_qkv.weight'].T).chunk(3, dim=-1)
    q, k, v = (t.reshape(batch, num, heads, head_dims) for t in (q, k, v))
    logits = torch.einsum('bqhc,bkhc->bhqk', q, k) / math.sqrt(head_dims)
    attn = logits.softmax(dim=-1)
    out = torch.einsum('bhqk,bkhc->bqhc', attn, v).reshape(batch, num, -1)
    out = out @ sd['to_out.0.weight'].T + sd['to_out.0.bias']
    if residual:
        out = out + tokens
    y = layer_norm(out, sd['norm2.weight'], sd['norm2.bias'])
    y = gelu(y @ sd['ffn.0.weight'].T + sd['ffn.0.bias'])
    y = y @ sd['ffn.3.weight'].T + sd['ffn.3.bias']
    return y + out if residual else y


@pytest.mark.parametrize('residual', [False, True])
def test_vsi_block_equals_manual_math(residual):
    torch.manual_seed(0)
    block = VSIBlock(
        64, num_heads=2, head_dims=16, mlp_dims=48,
        residual=residual).double().eval()
    for param in block.parameters():  # non-trivial LayerNorm affine too
        param.data.normal_(0, 0.2)
    tokens = torch.randn(2, 9, 64, dtype=torch.float64)
    expected = manual_vsi(block.state_dict(), tokens, 2, 16, residual)
    torch.testing.assert_close(block(tokens), expected)
    torch.testing.assert_close(block(tokens, num_queries=3), expected[:, -3:])


def test_vsi_block_has_no_residual_by_default():
    block = VSIBlock(8, num_heads=1, head_dims=4, mlp_dims=8).eval()
    block.ffn[3].weight.data.zero_()  # zero FFN output -> zero output
    block.ffn[3].bias.data.zero_()
    assert block(torch.randn(1, 5, 8)).abs().max() == 0


def test_head_equals_manual_cprfl():
    head = build_head(in_channels=24).double().eval()
    feat = torch.randn(2, 24, 3, 4, dtype=torch.float64)
    sd = head.state_dict()
    visual = feat.flatten(2).transpose(1, 2) @ sd['phi.weight'].T \
        + sd['phi.bias']
    hidden = gelu(sd['text_embeds.embeds'] @ sd['prompt_init.0.weight'].T +
                  sd['prompt_init.0.bias'])
    prompts = hidden @ sd['prompt_init.2.weight'].T + sd['prompt_init.2.bias']
    assert head.prompt_init[0].out_features == 32  # tau * d = 0.5 * 64
    tokens = torch.cat([visual, prompts.expand(2, -1, -1)], dim=1)
    vsi_sd = {k[4:]: v for k, v in sd.items() if k.startswith('vsi.')}
    refined = manual_vsi(vsi_sd, tokens, 2, 16)[:, -3:]
    expected = torch.einsum('bcd,cd->bc', refined, prompts)
    torch.testing.assert_close(head((feat, )), expected)


# --------------------------------------------------------------------------
# Query modes, input layouts, batch of one.


@pytest.mark.parametrize('residual', [False, True])
@pytest.mark.parametrize('batch', [1, 3])
def test_prompt_queries_equal_all_queries(residual, batch):
    fast = build_head(residual=residual).eval()
    full = build_head(residual=residual, query_mode='all').eval()
    full.load_state_dict(fast.state_dict())
    feat = torch.randn(batch, 24, 5, 5)
    scores = fast((feat, ))
    assert scores.shape == (batch, 3)
    torch.testing.assert_close(scores, full((feat, )), atol=1e-5, rtol=1e-5)


def test_token_maps_equal_feature_maps():
    head = build_head().eval()
    feat = torch.randn(2, 24, 4, 3)
    tokens = feat.flatten(2).transpose(1, 2)  # ViT-style [B, N, C]
    torch.testing.assert_close(head((tokens, )), head((feat, )))
    # Only the last stage is used.
    torch.testing.assert_close(
        head((torch.randn(2, 7), tokens)), head((feat, )))
    assert head.pre_logits((tokens, )).shape == (2, 3, 64)
    with pytest.raises(ValueError, match='feature maps'):
        head((torch.randn(2, 24), ))


def test_batch_of_one_loss_and_predict():
    head = build_head()
    feat = (torch.randn(1, 24, 2, 2), )
    assert head(feat).shape == (1, 3)
    head.eval()  # no dropout: loss and logits of the same forward pass
    loss = head.loss(feat, samples([[0, 2]]))['loss']
    logits = head(feat)
    expected = F.binary_cross_entropy_with_logits(
        logits, torch.tensor([[1., 0., 1.]]), reduction='sum')  # / B = 1
    torch.testing.assert_close(loss, expected)
    pred = head.predict(feat)
    assert len(pred) == 1
    torch.testing.assert_close(pred[0].pred_score, logits[0].sigmoid())


# --------------------------------------------------------------------------
# Dual-path gradients.


def pi_grads(**kwargs):
    head = build_head(**kwargs).eval()  # no dropout: identical forwards
    torch.manual_seed(1)
    feat = (torch.randn(2, 24, 3, 3), )
    head.loss(feat, samples([[0], [1, 2]]))['loss'].backward()
    return head, [p.grad.clone() for p in head.prompt_init.parameters()]


def test_prompt_gradients_sum_over_both_paths():
    _, full = pi_grads()
    cls_cut, through_vsi = pi_grads(no_cls_grad=True)
    feat_cut, through_classifier = pi_grads(no_feature_grad=True)
    for g_full, g_vsi, g_cls in zip(full, through_vsi, through_classifier):
        assert g_vsi.abs().max() > 0 and g_cls.abs().max() > 0
        assert not torch.allclose(g_vsi, g_full)
        torch.testing.assert_close(g_vsi + g_cls, g_full)
    # Cutting the feature path also stops every gradient into phi and VSI.
    assert feat_cut.phi.weight.grad is None
    assert all(p.grad is None for p in feat_cut.vsi.parameters())
    assert cls_cut.phi.weight.grad.abs().max() > 0


# --------------------------------------------------------------------------
# Text embeddings.


@pytest.fixture(scope='module')
def tiny_clip(tmp_path_factory):
    """Weights file of a tiny open_clip model and the model itself."""
    torch.manual_seed(0)
    clip, tokenizer = build_clip_and_tokenizer(model_cfg=TINY_CLIP)
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pth'
    torch.save(clip.state_dict(), path)
    return str(path), clip, tokenizer


def clip_embeds(weights, **kwargs):
    """A ``CLIPClassTextEmbeds`` config of the tiny CLIP."""
    return dict(dict(type='CLIPClassTextEmbeds', classnames=NAMES,
                     clip_model_cfg=TINY_CLIP, clip_pretrained=weights),
                **kwargs)


def clip_head(tiny_clip, num_classes=3, **kwargs):
    head = build_head(num_classes=num_classes,
                      text_embeds=clip_embeds(tiny_clip[0], **kwargs))
    head.init_weights()  # computes the CLIP text embeddings
    return head


def test_text_embeds_equal_open_clip_encode_text(tiny_clip):
    _, clip, tokenizer = tiny_clip
    head = clip_head(tiny_clip)
    prompts = [
        'a photo of a cat.', 'a photo of a traffic light.',
        'a photo of a teddy bear.'
    ]
    with torch.no_grad():
        expected = clip.encode_text(tokenizer(prompts), normalize=False)
    torch.testing.assert_close(head.text_embeds(), expected)
    assert head.text_embeds.dims == 32
    assert not head.text_embeds().requires_grad
    # A persistent buffer, no CLIP weights in the head or its checkpoint.
    state = head.state_dict()
    assert 'text_embeds.embeds' in state and not head.text_embeds.trainable
    assert all(
        k.split('.')[0] in ('text_embeds', 'phi', 'prompt_init', 'vsi')
        for k in state)
    assert [k for k in state if k.startswith('text_embeds')] == [
        'text_embeds.embeds']
    other = build_head(text_dims=32)
    other.load_state_dict(state)
    torch.testing.assert_close(other.text_embeds(), expected)


def test_text_embeds_from_preset_classnames(tiny_clip):
    _, clip, tokenizer = tiny_clip
    head = clip_head(
        tiny_clip, num_classes=20, classnames='voc-lt', template='{}')
    with torch.no_grad():
        expected = clip.encode_text(tokenizer(['aeroplane', 'bicycle']))
    torch.testing.assert_close(head.text_embeds()[:2], expected)


def test_text_embeds_from_files(tmp_path):
    embeds = torch.randn(3, 20)
    torch.save(embeds, tmp_path / 'e.pt')
    np.save(tmp_path / 'e.npy', embeds.numpy())
    for name in ('e.pt', 'e.npy'):
        head = build_head(text_embeds=dict(
            type='FileTextEmbeds', path=str(tmp_path / name)))
        torch.testing.assert_close(head.text_embeds(), embeds)
        assert head.text_embeds.dims == 20
        assert not head.text_embeds.trainable
    for name in ('bad.pt', 'bad.npy'):
        (tmp_path / name).write_bytes(b'truncated')
        with pytest.raises(ValueError, match=f'{name} cannot be read'):
            build_head(text_embeds=dict(type='FileTextEmbeds',
                                        path=str(tmp_path / name)))
    with pytest.raises(ValueError, match=r'e.pt must hold shape \[4, m\]'):
        build_head(num_classes=4, text_embeds=dict(
            type='FileTextEmbeds', path=str(tmp_path / 'e.pt')))
    with pytest.raises(FileNotFoundError, match='absent.pt'):
        build_head(text_embeds=dict(type='FileTextEmbeds',
                                    path=str(tmp_path / 'absent.pt')))


def test_random_text_embeds_without_clip():
    """Fig. 3's random initialisation: fixed N(0, 1) inputs of the PI
    network, seeded, saved with the head; no class names or CLIP needed."""
    head = build_head(
        text_embeds=dict(type='RandomTextEmbeds', dims=32, seed=5))
    expected = torch.randn(
        3, 32, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(head.text_embeds(), expected)
    assert head.prompt_init[0].in_features == 32
    assert 'text_embeds.embeds' in head.state_dict()
    assert not head.text_embeds().requires_grad
    head.loss((torch.randn(2, 24, 2, 2), ),
              samples([[0], [1, 2]]))['loss'].backward()
    assert head.prompt_init[0].weight.grad.abs().max() > 0
    with pytest.raises(ValueError, match=r'dims \(0\) must be a positive'):
        build_head(text_embeds=dict(type='RandomTextEmbeds', dims=0))


def test_trainable_text_encoder(tiny_clip):
    frozen = clip_head(tiny_clip).eval()
    head = build_head(
        text_embeds=clip_embeds(tiny_clip[0], trainable=True),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01)).eval()
    assert head.text_embeds.source.clip.visual is None
    assert 'text_embeds.embeds' not in head.state_dict()
    phi_before = head.phi.weight.clone()
    head.init_weights()  # init_cfg for the head, pretrained CLIP weights
    pretrained = tiny_clip[1].state_dict()
    for key, value in head.text_embeds.source.clip.state_dict().items():
        torch.testing.assert_close(value, pretrained[key])
    assert not torch.equal(head.phi.weight, phi_before)
    # Same weights -> same scores as the frozen-buffer head.
    frozen.load_state_dict(head.state_dict(), strict=False)
    feat = (torch.randn(2, 24, 2, 2), )
    torch.testing.assert_close(head(feat), frozen(feat))
    head.loss(feat, samples([[0], [2]]))['loss'].backward()
    tower = head.text_embeds.source
    trainable = [p for p in tower.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)
    assert tower.clip.token_embedding.weight.grad.abs().max() > 0


def test_invalid_arguments():
    with pytest.raises(ValueError, match='2 class names for num_classes=3'):
        build_head(text_embeds=dict(clip_embeds(None), classnames=['a', 'b']))
    with pytest.raises(ValueError, match=r'shape \[3, m\], got \[4, 20\]'):
        build_head(text_embeds=torch.randn(4, 20))
    with pytest.raises(TypeError, match='text_embeds must be'):
        build_head(text_embeds='data/embeds.pt')
    with pytest.raises(ValueError, match='num_classes=2, the head'):
        build_head(text_embeds=dict(type='RandomTextEmbeds', dims=8,
                                    num_classes=2))
    with pytest.raises(ValueError, match='query_mode'):
        build_head(query_mode='cls')


# --------------------------------------------------------------------------
# Inside an mmpretrain ImageClassifier.


def test_image_classifier_train_step_reduces_loss():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='ResNet',
                depth=18,
                stem_channels=8,
                base_channels=8,
                out_indices=(3, )),
            head=dict(
                type='VSIHead',
                num_classes=3,
                in_channels=64,
                text_embeds=torch.randn(3, 20),
                loss=dict(
                    type='AsymmetricLoss',
                    gamma_pos=0.0,
                    gamma_neg=4.0,
                    clip=0.05),
                **SMALL),
            data_preprocessor=dict(
                num_classes=3,
                mean=[127.5] * 3,
                std=[64.0] * 3,
                to_onehot=True)))
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
            for _ in range(4)
        ],
        data_samples=samples([[0], [1, 2], [2], [0, 1]]))
    losses = [model.train_step(data, optim)['loss'].item() for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    preds = model.val_step(data)
    assert preds[0].pred_score.shape == (3, )


@pytest.mark.parametrize('trainable', [False, True])
def test_checkpoint_predicts_without_building_clip(tiny_clip, tmp_path,
                                                   monkeypatch, trainable):
    """A trained head's checkpoint holds its class prompts' inputs: a head
    built for testing and filled from it never builds or loads CLIP."""
    import open_clip
    from mmengine.runner import load_checkpoint, save_checkpoint

    weights = str(tmp_path / 'clip.pth')
    torch.save(tiny_clip[1].state_dict(), weights)
    cfg = dict(text_embeds=clip_embeds(weights, trainable=trainable))
    trained = build_head(**cfg)
    trained.init_weights()
    trained.eval()
    ckpt = str(tmp_path / 'head.pth')
    save_checkpoint(dict(state_dict=trained.state_dict()), ckpt)
    feats = (torch.randn(2, 24, 2, 2), )
    expected = trained.predict(feats, samples([[0], [1, 2]]))

    def impossible(*args, **kwargs):
        raise AssertionError('CLIP weights were loaded')

    def architecture_only(**kwargs):
        # the trainable encoder's modules are built (weights from the
        # checkpoint); a frozen head builds no CLIP at all
        if not trainable or kwargs.get('pretrained') is not None:
            impossible()
        return build_clip_and_tokenizer(**kwargs)

    os.remove(weights)  # the CLIP weights file is gone too
    monkeypatch.setattr(open_clip, 'load_checkpoint', impossible)
    monkeypatch.setattr(
        'mmltml.models.text_embeds.clip_class_text_embeds.'
        'build_clip_and_tokenizer',
        architecture_only)
    test_head = build_head(**cfg)
    load_checkpoint(test_head, ckpt, map_location='cpu', strict=True)
    got = test_head.eval().predict(feats, samples([[0], [1, 2]]))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.pred_logits, b.pred_logits)


def test_text_embeds_fragments_build_without_clip(monkeypatch):
    """The fragments of configs/_base_/text_embeds build their sources; a
    CLIP source knows its width from the open_clip config and builds no
    CLIP before the head runs it."""
    import glob

    from mmengine.config import Config

    def no_clip(**kwargs):
        raise AssertionError('CLIP was built')

    monkeypatch.setattr(
        'mmltml.models.text_embeds.clip_class_text_embeds.'
        'build_clip_and_tokenizer', no_clip)
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    widths = {}
    for path in sorted(glob.glob(
            os.path.join(root, 'configs', '_base_', 'text_embeds', '*.py'))):
        name = os.path.basename(path)[:-3]
        cfg = Config.fromfile(path)[name.replace('-', '_') + '_text_embeds']
        head = build_head(num_classes=20, text_embeds=dict(
            cfg, classnames='voc-lt') if 'clip' in name else cfg)
        widths[name] = head.text_embeds.dims
        assert head.prompt_init[0].in_features == head.text_embeds.dims
        assert not head.text_embeds.trainable
    assert widths == {'clip-rn50': 1024, 'random-1024': 1024,
                      'random-128': 128, 'tinyclip-synthetic': 128}


# --------------------------------------------------------------------------
# Checkpoints written before the text embeddings became ClassTextEmbeds.

#: The last commit whose VSIHead held ``text_embeds`` / ``text_encoder``
#: itself (before ``ClassTextEmbeds``).
OLD_LAYOUT_COMMIT = '2fcc515'
OLD_HEAD_SCRIPT = '''
import sys, torch
import mmltml  # noqa: F401
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS
cfg, out = torch.load(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
head = MODELS.build(cfg)
head.init_weights()
head.eval()
feats = (torch.randn(2, 24, 2, 2, generator=torch.Generator().manual_seed(1)),)
save_checkpoint(dict(state_dict=head.state_dict(),
                     logits=head(feats).detach()), out)
'''


def _old_layout(state: dict) -> dict:
    """A state dict of today's VSIHead in the layout of the old one: the
    buffer ``text_embeds`` and the tower ``text_encoder.*`` on the head."""
    old = {}
    for key, value in state.items():
        key = key.replace('text_embeds.embeds', 'text_embeds')
        key = key.replace('text_embeds.source.', 'text_encoder.')
        old[key] = value
    return old


@pytest.mark.parametrize('trainable', [False, True])
def test_old_layout_keys_load_strictly(tiny_clip, trainable):
    cfg = dict(text_embeds=clip_embeds(tiny_clip[0], trainable=trainable))
    trained = build_head(**cfg)
    trained.init_weights()
    old = _old_layout(trained.state_dict())
    assert ('text_embeds' in old) != trainable
    assert any(k.startswith('text_encoder.') for k in old) == trainable
    fresh = build_head(seed=1, **cfg)
    fresh.load_state_dict(old, strict=True)
    feats = (torch.randn(2, 24, 2, 2), )
    torch.testing.assert_close(fresh.eval()(feats), trained.eval()(feats))


@pytest.mark.slow
@pytest.mark.parametrize('trainable', [False, True])
def test_checkpoint_of_the_old_code_loads_strictly(tiny_clip, tmp_path,
                                                   trainable):
    """A checkpoint written by VSIHead as it was at OLD_LAYOUT_COMMIT (run
    from ``git archive`` of that commit) loads strictly into today's head,
    which then computes the old head's scores exactly."""
    import subprocess
    import sys
    import tarfile

    from mmengine.runner import load_checkpoint
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    archive = tmp_path / 'old.tar'
    with open(archive, 'wb') as f:
        made = subprocess.run(
            ['git', '-C', root, 'archive', OLD_LAYOUT_COMMIT, 'mmltml'],
            stdout=f, stderr=subprocess.PIPE)
    if made.returncode != 0:
        pytest.skip(f'commit {OLD_LAYOUT_COMMIT} is not in this checkout: '
                    f'{made.stderr.decode().strip()}')
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / 'old', filter='data')
    cfg = dict(type='VSIHead', num_classes=3, in_channels=24, loss=BCE,
               text_embeds=clip_embeds(tiny_clip[0], trainable=trainable),
               **SMALL)
    torch.save(cfg, tmp_path / 'cfg.pt')
    ckpt = str(tmp_path / 'old_head.pth')
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'old'))
    subprocess.run([sys.executable, '-c', OLD_HEAD_SCRIPT,
                    str(tmp_path / 'cfg.pt'), ckpt], env=env, check=True,
                   cwd=str(tmp_path))
    saved = torch.load(ckpt, weights_only=False)
    keys = set(saved['state_dict'])
    assert ('text_embeds' in keys) != trainable
    assert any(k.startswith('text_encoder.') for k in keys) == trainable
    head = build_head(seed=1, text_embeds=cfg['text_embeds'])
    load_checkpoint(head, ckpt, map_location='cpu', strict=True)
    feats = (torch.randn(2, 24, 2, 2,
                         generator=torch.Generator().manual_seed(1)), )
    torch.testing.assert_close(head.eval()(feats), saved['logits'],
                               rtol=0, atol=0)
