# HP-DVAL (Yan et al., IEEE TIP 2025, arXiv 2509.17747), stage 1 as
# released: the student is CLIP ViT-B/16's own image tower (OpenAI weights,
# fine-tuned) giving a [CLS] and 196 patch embeddings (ln_post on every
# token, then CLIP's projection; no L2 norm); both views are scored against
# the hand-crafted prompt "a photo of a {}." through CLIP's text tower,
# s = 0.5 * local + 0.5 * global, each view normalised over the classes,
# local = mean of the 16 best patch scores per class. Datasets set the class
# names and the loss (HP-DVAL's DB* of their dataset); the configs of
# configs/hpdval choose the preset (README.md there).
clip_model_name = 'ViT-B-16-quickgelu'
clip_pretrained = 'openai'
model = dict(
    type='CLIPPromptClassifier',
    backbone=dict(
        type='CLIPVisionBackbone',
        clip_model_name=clip_model_name,
        clip_pretrained=clip_pretrained,
        out_type='dual_view',
        frozen=False),
    head=dict(
        type='DualViewAlignHead',
        patch_topk=16,
        local_weight=0.5,
        score_norm='l2_over_classes',
        text=dict(
            type='HierarchicalPrompts',
            clip_model_name=clip_model_name,
            clip_pretrained=clip_pretrained,
            # M = 4 class-shared context tokens from "a photo of a" for
            # the global (P^G) and the local (P^L) view; they reproduce
            # the hand-crafted prompt P^H until stage 2 trains them
            global_prompt=dict(
                n_ctx=4, ctx_init='a photo of a', class_specific=False),
            local_prompt=dict(
                n_ctx=4, ctx_init='a photo of a', class_specific=False),
            template='a photo of a {}.',
            learned=False,
            # the released stage 1 fine-tunes the text tower too
            trainable_text=True)))
