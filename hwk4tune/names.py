"""Names of the registered trainables and data sets, importable without torch or Ray.

The spec validator checks YAML values against these; ``trainables.TRAINABLES`` and ``data.DATASETS`` are
the registries behind them (a test keeps the three in step).
"""

TRAINABLE_NAMES = ("cnn", "resnet")
DATASET_NAMES = ("digits", "fashion_mnist", "mnist", "cifar10", "fake")

# Hyperparameters that fix the shape of the model or of the optimizer's state: a checkpoint taken under
# one value cannot be loaded under another. PBT and PB2 copy them from the trial they clone, never mutate
# them (a mutated `hidden` made PBT's exploit fail with a shape mismatch).
FIXED_WHILE_TRAINING = ("optimizer", "hidden", "batch_norm", "finetune")

# What every trainable reports each epoch, and which trainables checkpoint (for PBT, PB2, HyperBand):
# facts the spec validator checks before anything starts, kept here so that it needs no torch.
REPORTED_METRICS = ("train_loss", "val_loss", "val_accuracy", "epoch", "epoch_seconds", "images_per_second")
CHECKPOINTING_TRAINABLES = ("cnn", "resnet")
