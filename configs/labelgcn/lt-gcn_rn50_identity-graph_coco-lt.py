# LT-GCN on COCO-LT as the official COCO-LT yaml sets the graph: p = 0,
# which makes the text-similarity graph the identity (the "GCN" is a
# residual 3-layer MLP applied to each class). For comparison with
# lt-gcn_rn50_coco-lt.py (p = 0.2).
_base_ = './lt-gcn_rn50_coco-lt.py'
model = dict(
    head=dict(adapter=dict(graph=dict(_delete_=True, mode='identity'))))
