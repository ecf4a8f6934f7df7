# ResNet baseline with the focal loss (gamma 2, _base_/losses/focal.py).
_base_ = ['./resnet18-w16_bce_synthetic.py', '../_base_/losses/focal.py']
model = dict(head=dict(loss=_base_.focal_loss))
