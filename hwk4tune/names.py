"""Names of the registered trainables and data sets, importable without torch or Ray.

The spec validator checks YAML values against these; ``trainables.TRAINABLES`` and ``data.DATASETS`` are
the registries behind them (a test keeps the three in step).
"""

TRAINABLE_NAMES = ("cnn", "resnet")
DATASET_NAMES = ("digits", "fashion_mnist", "mnist", "cifar10", "fake")
