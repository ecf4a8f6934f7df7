# CPRFL's random prompt initialisation (Fig. 3): fixed N(0, 1) vectors of
# CLIP RN50's width (1024) instead of the text embeddings of the class names.
# Use: add this file to `_base_` and write
# `text_embeds=dict(_base_.random_1024_text_embeds, _delete_=True)`.
random_1024_text_embeds = dict(type='RandomTextEmbeds', dims=1024, seed=0)
