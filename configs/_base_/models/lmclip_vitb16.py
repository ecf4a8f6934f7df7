# LM-CLIP (Timmermann et al., IEEE Access 2025): the whole open_clip
# ViT-B/16 (OpenAI weights, QuickGELU build) fine-tuned as a multi-label
# classifier. Image tower: CLIPVisionBackbone returning encode_image
# (trainable); class logits s * cos(image, text("a photo of a {c}")) with
# the class prompts re-encoded by the trainable text tower of the same
# weights at every step and CLIP's own logit scale trained (start ln 100,
# never clamped); L = L_CLIP(image, label caption) + lambda * BAL. Both
# towers must load the same weights: change clip_model_name /
# clip_pretrained in both places. Dataset configs set the class names,
# num_classes and the BAL fragment with the class statistics.
model = dict(
    type='CLIPPromptClassifier',
    # "a photo of a c1, c2": each image's label names, list-file order
    head_inputs=dict(
        label_captions=dict(
            type='LabelCaptionsInput', template='a photo of a {}',
            sep=', ')),
    backbone=dict(
        type='CLIPVisionBackbone',
        clip_model_name='ViT-B-16-quickgelu',
        clip_pretrained='openai',
        out_type='embedding',
        frozen=False),
    head=dict(
        type='CLIPFineTuneHead',
        text_embeds=dict(
            type='CLIPClassTextEmbeds',
            template='a photo of a {}',
            clip_model_name='ViT-B-16-quickgelu',
            clip_pretrained='openai',
            trainable=True,
            train_logit_scale=True,
            # the tower runs up to the longest end-of-text token of each
            # batch of texts (class prompts, label captions), not all 77
            # positions: the same features and gradients, faster
            truncate_text=True),
        contrastive_loss=dict(type='CLIPContrastiveLoss')))
