# The shipped tiny CLIP's text embeddings ([C, 128]) of "a photo of a {}.",
# frozen: the class prompts of CPRFL on the synthetic benchmark.
# Use: add this file to `_base_` and write
# `text_embeds=dict(_base_.tinyclip_synthetic_text_embeds, classnames=...)`.
tinyclip_synthetic_text_embeds = dict(
    type='CLIPClassTextEmbeds',
    template='a photo of a {}.',
    clip_model_name=None,
    clip_model_cfg='tinyclip-synthetic',
    clip_pretrained='checkpoints/tinyclip_synthetic.pth',
    trainable=False)
