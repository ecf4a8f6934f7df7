# Copyright (c) mmltml contributors. All rights reserved.
"""The tiny CLIP of the built-in synthetic benchmark.

An open_clip ``CLIP`` small enough to pre-train on two CPU cores in minutes
(``tools/misc/pretrain_tiny_clip.py``): a ``ModifiedResNet`` image tower of
width 16 with one bottleneck per stage on 64x64 images, a two-layer text
transformer of width 128 with context length 32 and the standard open_clip
(byte-pair) tokenizer, and a 128-d joint embedding. Use it like any other
CLIP config (from the repository root, where the weights are)::

    from mmltml.models.utils.clip_loader import build_open_clip
    from mmltml.models.utils.tiny_clip import (TINY_CLIP_CFG,
                                               TINY_CLIP_CHECKPOINT)
    model = build_open_clip(model_cfg=TINY_CLIP_CFG,
                            pretrained=TINY_CLIP_CHECKPOINT)

Images are normalised with the OpenAI CLIP mean and std (in 0-255 units
below, as mmpretrain's data preprocessor expects them).
"""
TINY_CLIP_CFG = dict(
    embed_dim=128,
    vision_cfg=dict(layers=(1, 1, 1, 1), width=16, image_size=64),
    text_cfg=dict(context_length=32, width=128, heads=2, layers=2),
    quick_gelu=False)

TINY_CLIP_IMAGE_SIZE = TINY_CLIP_CFG['vision_cfg']['image_size']
TINY_CLIP_MEAN = (122.770938, 116.7460125, 104.09373615)
TINY_CLIP_STD = (68.5005327, 66.6321579, 70.32316305)

#: Where ``tools/misc/pretrain_tiny_clip.py`` writes the weights and the
#: synthetic configs read them (``clip_pretrained``): a path relative to the
#: working directory (the repository root), like every weights file in the
#: configs. The weights are not package data; a missing file raises
#: ``FileNotFoundError`` naming the path when the CLIP is built.
TINY_CLIP_CHECKPOINT = 'checkpoints/tinyclip_synthetic.pth'
