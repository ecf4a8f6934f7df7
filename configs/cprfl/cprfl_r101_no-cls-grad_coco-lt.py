# Dual-path ablation (official switch `no_cls_grad`): the prompts P are
# detached where they act as classifiers in s_i = <P'_i, P_i>, so they learn
# only through the VSI path.
_base_ = './cprfl_r101_coco-lt.py'
model = dict(head=dict(no_cls_grad=True))
