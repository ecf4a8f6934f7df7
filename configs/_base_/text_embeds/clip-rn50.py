# CPRFL's class text embeddings: OpenAI CLIP RN50 (QuickGELU build) text
# encoder on "a photo of a {}.", frozen (the [C, 1024] embeddings are
# computed once and kept in the head's `text_embeds` buffer).
# Use: add this file to `_base_` and write
# `text_embeds=dict(_base_.clip_rn50_text_embeds, classnames='coco-lt')`
# (the dataset config sets classnames).
clip_rn50_text_embeds = dict(
    type='CLIPClassTextEmbeds',
    template='a photo of a {}.',
    clip_model_name='RN50-quickgelu',
    clip_pretrained='openai',
    trainable=False)
