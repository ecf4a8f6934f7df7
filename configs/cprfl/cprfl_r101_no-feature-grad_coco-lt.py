# Dual-path ablation (official switch `no_feature_grad`): the refined
# prompts P' are detached in the score, so no gradient reaches the VSI
# block, phi or the backbone; only the prompt-initialisation net learns,
# through the classifier path.
_base_ = './cprfl_r101_coco-lt.py'
model = dict(head=dict(no_feature_grad=True))
# the backbone, phi and VSI parameters get no gradient (needed by DDP)
find_unused_parameters = True
