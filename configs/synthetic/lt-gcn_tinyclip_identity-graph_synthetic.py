# Ablation of lt-gcn_tinyclip_synthetic.py: the same model and recipe with
# the identity as the label graph (A = I, the official COCO-LT setting
# p = 0), so the GCN refines each class text feature alone (a residual
# per-class MLP) and nothing propagates between labels. The difference to
# lt-gcn_tinyclip_synthetic.py is what the graph itself adds.
_base_ = './lt-gcn_tinyclip_synthetic.py'

model = dict(head=dict(adapter=dict(graph=dict(_delete_=True,
                                               mode='identity'))))
