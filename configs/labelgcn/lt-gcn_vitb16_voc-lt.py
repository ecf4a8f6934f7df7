# LT-GCN on VOC-LT with CLIP ViT-B/16 (the official code's commented
# variant; CapNet's second backbone): embedding width 512, GCN
# 512 -> 1024 -> 1024 -> 512. Everything else as lt-gcn_rn50_voc-lt.py.
_base_ = './lt-gcn_rn50_voc-lt.py'
model = dict(
    backbone=dict(clip_model_name='ViT-B-16-quickgelu'),
    head=dict(adapter=dict(in_dims=512, hidden_dims=(1024, 1024))))
