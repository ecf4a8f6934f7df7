# CoOp on the synthetic benchmark: LMPT without the CSE loss.
_base_ = './lmpt_tinyclip_synthetic.py'
model = dict(head_inputs=None, head=dict(cse_loss=None))
train_dataloader = dict(dataset=dict(dataset=dict(require_captions=False)))
