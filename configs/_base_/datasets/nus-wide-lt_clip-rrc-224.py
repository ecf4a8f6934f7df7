# NUS-WIDE-LT (this project's split of NUS-WIDE, not an official one;
# docs/en/prepare_data.md) for CLIP models whose image tower is trained:
# everything as coco-lt_clip-rrc-224.py except the dataset, its root and
# its classes.
_base_ = './coco-lt_clip-rrc-224.py'
dataset_type = 'NUSWIDELTDataset'
data_root = 'data/nus-wide'
num_classes = 81
class_stats = dict(
    ann_file=data_root + '/nus_wide_lt_train.txt',
    label_file=data_root + '/nus_wide_lt_labels.txt')

data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(class_stats=class_stats)
test_evaluator = val_evaluator
