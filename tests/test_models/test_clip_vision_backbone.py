# Copyright (c) mmltml contributors. All rights reserved.
"""CLIPVisionBackbone returns open_clip's own token / feature maps, and a
frozen tower gets no gradient, stays in eval mode and is not saved."""
import pytest
import torch
from mmengine.runner.checkpoint import load_state_dict
from mmpretrain.registry import MODELS

import mmltml  # noqa: F401
from mmltml.models.utils.clip_loader import build_open_clip

TEXT_CFG = dict(context_length=8, vocab_size=100, width=16, heads=2,
                layers=1)
TINY_VIT = dict(
    embed_dim=16,
    vision_cfg=dict(layers=2, width=32, head_width=16, patch_size=8,
                    image_size=32),
    text_cfg=TEXT_CFG)
TINY_RESNET = dict(
    embed_dim=16,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=8, image_size=64),
    text_cfg=TEXT_CFG)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference(model_cfg):
    """The open_clip image tower with the weights :func:`build` gets."""
    torch.manual_seed(0)
    return build_open_clip(model_cfg=model_cfg).visual


def build(model_cfg, **kwargs):
    torch.manual_seed(0)
    backbone = MODELS.build(
        dict(type='CLIPVisionBackbone', clip_model_cfg=model_cfg, **kwargs))
    backbone.init_weights()  # must leave the CLIP weights alone
    return backbone


def _outputs_of(module, blocks, x):
    """Run ``module(x)`` and capture the outputs of ``blocks``."""
    captured = []
    handles = [b.register_forward_hook(lambda m, i, o: captured.append(o))
               for b in blocks]
    with torch.no_grad():
        result = module(x)
    for handle in handles:
        handle.remove()
    return result, captured


def test_vit_tokens_are_open_clips():
    backbone = build(TINY_VIT, out_indices=(0, -1))
    visual = reference(TINY_VIT)
    x = torch.randn(2, 3, 32, 32)
    maps = backbone(x)
    assert [tuple(m.shape) for m in maps] == [(2, 32, 4, 4)] * 2

    # the last map: open_clip's `output_tokens` (after ln_post), on the grid
    visual.output_tokens = True
    (_, tokens), blocks = _outputs_of(visual, visual.transformer.resblocks,
                                      x)
    visual.output_tokens = False
    assert tokens.shape == (2, 16, 32)
    torch.testing.assert_close(maps[-1].flatten(2).transpose(1, 2), tokens)
    # row-major patch order: token 1 is the patch right of token 0
    torch.testing.assert_close(maps[-1][:, :, 0, 1], tokens[:, 1])
    # block 0: its output without the class token, through ln_post
    torch.testing.assert_close(
        maps[0].flatten(2).transpose(1, 2),
        visual.ln_post(blocks[0][:, 1:]).detach())
    assert not torch.allclose(maps[0], maps[-1])

    # the projection (and ln_post without normalisation) is not kept
    assert backbone.visual.proj is None
    raw_backbone = build(TINY_VIT, normalize=False)
    assert not any('ln_post' in k for k in raw_backbone.state_dict())
    raw = raw_backbone(x)[0]
    torch.testing.assert_close(raw.flatten(2).transpose(1, 2),
                               blocks[-1][:, 1:])


def test_modified_resnet_stage_maps_are_open_clips():
    backbone = build(TINY_RESNET, out_indices=(2, -1))
    visual = reference(TINY_RESNET)
    x = torch.randn(2, 3, 64, 64)
    maps = backbone(x)
    pooled, (layer2, layer4) = _outputs_of(
        visual, [visual.layer2, visual.layer4], x)
    assert maps[1].shape == (2, 8 * 32, 2, 2)  # 32 x width, stride 32
    torch.testing.assert_close(maps[0], layer2)
    torch.testing.assert_close(maps[1], layer4)
    torch.testing.assert_close(visual.attnpool(maps[1]), pooled)
    # the attention pooling is not kept
    assert backbone.visual.attnpool is None
    assert not any('attnpool' in k for k, _ in backbone.named_parameters())


def _classifier(backbone_kwargs, model_cfg=TINY_RESNET, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='CLIPVisionBackbone',
                          clip_model_cfg=model_cfg, **backbone_kwargs),
            head=dict(type='VSIHead', num_classes=3,
                      in_channels=256 if model_cfg is TINY_RESNET else 32,
                      embed_dims=16, num_heads=2, head_dims=8, mlp_dims=16,
                      text_embeds=torch.randn(3, 8))))


def _loss(model):
    size = model.backbone.visual.image_size
    x = torch.randn(2, 3, *torch.nn.modules.utils._pair(size))
    target = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
    return model.head.loss_module(model(x), target)


def test_frozen_tower_gets_no_grad_and_stays_in_eval_mode():
    model = _classifier({})
    backbone = model.backbone
    assert not any(p.requires_grad for p in backbone.parameters())
    model.train()
    assert model.head.training and backbone.training
    assert not any(m.training for m in backbone.visual.modules())
    bn = backbone.visual.bn1
    stats = bn.running_mean.clone()
    _loss(model).backward()
    torch.testing.assert_close(bn.running_mean, stats)
    assert all(p.grad is None for p in backbone.parameters())
    assert all(p.grad is not None for p in model.head.parameters())
    x = torch.randn(1, 3, 64, 64)
    with torch.enable_grad():
        assert backbone(x)[0].grad_fn is None

    # without saving, checkpoints hold no frozen weights and load strictly
    state = _classifier(dict(save_frozen=False)).state_dict()
    assert not any(k.startswith('backbone.') for k in state)
    other = _classifier(dict(save_frozen=False))
    load_state_dict(other, state, strict=True)  # mmengine's loader
    other.load_state_dict(state, strict=True)
    with pytest.raises(RuntimeError, match='head.phi.weight'):
        other.load_state_dict(
            {k: v for k, v in state.items() if k != 'head.phi.weight'})


def test_tower_from_a_weights_file_is_rebuilt_not_saved(tmp_path):
    """With ``clip_pretrained`` the tower comes back when the model is
    built, so checkpoints leave it out by default, and a reload restores
    the whole model."""
    import open_clip
    torch.manual_seed(3)
    clip = open_clip.CLIP(**TINY_RESNET)
    path = str(tmp_path / 'clip.pt')
    torch.save(clip.state_dict(), path)
    model = _classifier(dict(clip_pretrained=path))
    state = model.state_dict()
    assert not any(k.startswith('backbone.') for k in state)
    other = _classifier(dict(clip_pretrained=path), seed=1)
    other.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    other.eval()
    torch.testing.assert_close(other(x), model(x))
    torch.testing.assert_close(
        model.backbone.visual.conv1.weight, clip.visual.conv1.weight)
    # weights that init_cfg replaces are not rebuilt at test time: saved
    init = dict(type='Pretrained', checkpoint=str(tmp_path / 'other.pth'))
    with_init = _classifier(dict(clip_pretrained=path, init_cfg=init))
    assert 'backbone.visual.conv1.weight' in with_init.state_dict()


def test_tower_without_pretrained_weights_is_saved():
    """A random (or init_cfg-loaded) tower is not rebuilt identically, so by
    default it goes into checkpoints and a reload gives the same model."""
    model = _classifier({})
    saved = model.state_dict()
    assert 'backbone.visual.layer4.0.conv1.weight' in saved
    other = _classifier({}, seed=1)
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    other.eval()
    assert not torch.equal(other.backbone(x)[0], model.backbone(x)[0])
    other.load_state_dict(saved, strict=True)
    torch.testing.assert_close(other.backbone(x)[0], model.backbone(x)[0])


@pytest.mark.parametrize('model_cfg', [TINY_RESNET, TINY_VIT],
                         ids=['resnet', 'vit'])
@pytest.mark.parametrize('normalize', [True, False])
def test_trainable_tower_learns(model_cfg, normalize):
    model = _classifier(dict(frozen=False, normalize=normalize), model_cfg)
    backbone = model.backbone
    model.train()
    assert all(m.training for m in backbone.visual.modules())
    _loss(model).backward()
    # every parameter of the tower learns (no unused ones for DDP)
    grads = [p.grad for p in backbone.parameters()]
    assert len(grads) > 10 and all(g is not None for g in grads)
    assert 'backbone.visual.conv1.weight' in model.state_dict()
    model.eval()
    assert not backbone.visual.training


@pytest.mark.parametrize('model_cfg', [TINY_VIT, TINY_RESNET])
def test_embedding_output_is_encode_image(model_cfg):
    """``out_type='embedding'``: open_clip's pooled, projected
    ``encode_image``, with the whole tower kept."""
    size = model_cfg['vision_cfg']['image_size']
    x = torch.randn(2, 3, size, size)
    torch.manual_seed(0)
    clip = build_open_clip(model_cfg=model_cfg)
    backbone = build(model_cfg, out_type='embedding')
    with torch.no_grad():
        out = backbone(x)
        expected = clip.encode_image(x)
    assert len(out) == 1 and out[0].shape == (2, 16)
    torch.testing.assert_close(out[0], expected)
    tower = {k for k in clip.state_dict() if k.startswith('visual.')}
    assert set(backbone.state_dict()) == tower  # frozen: saved (no weights)
    with pytest.raises(ValueError, match='out_type must be one of'):
        build(model_cfg, out_type='tokens')
