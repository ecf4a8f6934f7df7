# Zero-shot tiny CLIP with the template "there is a {}.", the mention
# phrasing of the tiny CLIP's pre-training captions (a hand-written prompt
# that suits this model better than CLIP's usual "a photo of a {}.").
_base_ = './clip_tinyclip_zeroshot_synthetic.py'
model = dict(backbone=dict(templates=['there is a {}.']))
