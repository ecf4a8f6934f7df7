# CPRFL's random prompt initialisation (Fig. 3) at the tiny CLIP's width
# (128): fixed N(0, 1) vectors instead of the text embeddings.
# Use: add this file to `_base_` and write
# `text_embeds=dict(_base_.random_128_text_embeds, _delete_=True)`.
random_128_text_embeds = dict(type='RandomTextEmbeds', dims=128, seed=0)
