# CoOp (Zhou et al., IJCV 2022) on NUS-WIDE-LT (this project's split): the
# same prompt learner and classification loss as LMPT, without the CSE loss.
_base_ = '../lmpt/lmpt_vitb16_nus-wide-lt.py'
model = dict(head_inputs=None, head=dict(cse_loss=None))
train_dataloader = dict(dataset=dict(dataset=dict(with_captions=False)))
