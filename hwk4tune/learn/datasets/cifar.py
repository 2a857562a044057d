"""CIFAR-10 from its standard python version: ``cifar-10-batches-py/{data_batch_1..5, test_batch}``.

Each batch is a pickled dict with ``data`` (N×3072 uint8, each row the red, green then blue 32×32 planes)
and ``labels``. Copies re-saved channels-last (``data`` N×32×32×3, as torchvision holds it in memory) are
accepted too and converted to N×3×32×32. Batches are read with the array-only unpickler
(:mod:`.safe_pickle`): the folder comes from the user, and a pickle can run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwk4tune.learn.datasets.roots import data_roots
from hwk4tune.learn.datasets.safe_pickle import FileCheckError, load_arrays

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def find(data_dir: str | Path | None) -> Path | None:
    """The first ``ROOT/cifar-10-batches-py`` holding all six batches, or None."""
    for root in data_roots(data_dir):
        folder = root / FOLDER
        if all((folder / b).is_file() for b in (*TRAIN_BATCHES, TEST_BATCH)):
            return folder
    return None


def to_nchw(data: np.ndarray, where: str) -> np.ndarray:
    """N×3072 (CHW rows) or N×32×32×3 (channels last) or N×3×32×32 -> N×3×32×32 uint8."""
    data = np.asarray(data)
    if data.ndim == 2 and data.shape[1] == 3 * 32 * 32:
        return data.reshape(-1, 3, 32, 32)
    if data.ndim == 4 and data.shape[3] == 3 and data.shape[1:3] == (32, 32):
        return np.ascontiguousarray(data.transpose(0, 3, 1, 2))
    if data.ndim == 4 and data.shape[1:] == (3, 32, 32):
        return data
    raise FileCheckError(f"cifar10: {where}: data has shape {data.shape}; expected N×3072, N×32×32×3 or N×3×32×32")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (images N×3×32×32 uint8, labels int64)."""
    with open(path, "rb") as f:
        batch = load_arrays(f, f"cifar10: {path}")
    if not isinstance(batch, dict):
        raise FileCheckError(f"cifar10: {path}: expected a dict with data and labels, got {type(batch).__name__}")
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    labels = batch.get("labels", batch.get("fine_labels"))
    if "data" not in batch or labels is None:
        raise FileCheckError(f"cifar10: {path}: keys {sorted(batch)}; expected data and labels")
    x = to_nchw(batch["data"], str(path))
    y = np.asarray(labels, dtype=np.int64)
    if len(x) != len(y):
        raise FileCheckError(f"cifar10: {path}: {len(x)} images but {len(y)} labels")
    if x.dtype != np.uint8:
        x = x.astype(np.uint8)
    return x, y


def read(folder: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train images, labels), (test images, labels)) from the six batches of ``folder``."""
    train = [read_batch(folder / b) for b in TRAIN_BATCHES]
    test = read_batch(folder / TEST_BATCH)
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), test
