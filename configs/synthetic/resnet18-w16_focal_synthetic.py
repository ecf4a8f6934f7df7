# ResNet baseline with the focal loss (gamma 2, DBLoss preset 'focal').
_base_ = './resnet18-w16_bce_synthetic.py'
model = dict(head=dict(loss=dict(preset='focal')))
