# A large label space on the synthetic benchmark, for frozen-CLIP methods:
# the first 2,000 classes of the 2,080-class vocabulary ("[<pattern>]
# <colour> <shape>"), Zipf training counts 400 / rank (at least 1: 4 head,
# 16 medium and 1,980 tail classes, 1,952 images), 2 test positives per
# class (1,871 images), made by
#   python tools/dataset_converters/generate_synthetic.py \
#       --out data/synthetic-2k --num-classes 2000 --profile zipf \
#       --max-train-count 400 --min-train-count 1 --test-per-class 2
# Everything else as synthetic-lt_clip-64.py (captions, cached features).
_base_ = './synthetic-lt_clip-64.py'

data_root = 'data/synthetic-2k'
num_classes = 2000
class_stats = dict(
    ann_file=data_root + '/train.txt', label_file=data_root + '/labels.txt')

data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
val_dataloader = dict(dataset=dict(dataset=dict(data_root=data_root)))
test_dataloader = val_dataloader
val_evaluator = dict(class_stats=class_stats)
test_evaluator = val_evaluator
