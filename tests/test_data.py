"""Data sets as normalized tensors; the Debian Fashion-MNIST path; the error for missing data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from hwk4tune.learn import data as data_mod
from hwk4tune.learn.data import DataNotFoundError, load_dataset
from hwk4tune.registry import DATASETS, RegistryError, dataset_entry


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HWK4TUNE_DATA", raising=False)
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")


def test_registry_loaders_import_lazily_and_unknown_names_suggest():
    assert dataset_entry("digits").load() is data_mod.load_digits
    # each name's loader is learn/data.py's load_NAME (ARCHITECTURE.md: "A data set"), not just any callable
    assert {name: entry.load() for name, entry in DATASETS.items()} == {
        name: getattr(data_mod, f"load_{name}") for name in DATASETS}
    with pytest.raises(RegistryError, match=r"unknown data set 'mnits'; did you mean 'mnist'\? \(valid: digits, "):
        dataset_entry("mnits")


def test_digits_splits_are_normalized_tensors():
    d = load_dataset("digits", val_fraction=0.2, seed=3)
    assert d.input_shape == (1, 28, 28) and d.num_classes == 10 and d.name == "digits"
    assert d.train_x.dtype == torch.float32 and d.train_y.dtype == torch.int64
    sizes = d.sizes()
    assert sizes["train"] + sizes["val"] + sizes["test"] == 1797
    assert sizes["val"] == round((sizes["train"] + sizes["val"]) * 0.2)
    assert abs(d.train_x.mean().item()) < 1e-4 and abs(d.train_x.std().item() - 1) < 1e-3
    assert set(d.train_y.tolist()) == set(range(10))


def test_split_is_seeded_and_test_set_fixed():
    a, b, c = load_dataset("digits", seed=0), load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert torch.equal(a.val_y, b.val_y) and torch.equal(a.train_x, b.train_x)
    assert not torch.equal(a.val_x, c.val_x)
    assert torch.equal(a.test_y, c.test_y)  # the test set never depends on the seed


def test_subset_limits_pool_and_test():
    d = load_dataset("digits", subset=100, val_fraction=0.1)
    assert d.sizes() == {"train": 90, "val": 10, "test": 100}


def test_fake_any_shape():
    d = load_dataset("fake", size=40, shape=(1, 20, 24), seed=0)
    assert d.input_shape == (1, 20, 24) and d.sizes() == {"train": 36, "val": 4, "test": 8}
    assert load_dataset("fake", size=20).input_shape == (3, 32, 32)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "imagenet"}, "unknown data set 'imagenet'.*valid: digits"),
    ({"name": "digits", "val_fraction": 1.0}, "0 < val_fraction < 1"),
    ({"name": "digits", "subset": 1}, "subset"),
    ({"name": "digits", "shape": (1, 8, 8)}, "fake"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(kwargs.pop("name"), **kwargs)


def test_missing_data_names_data_set_folders_and_fix(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("cifar10", data_dir=tmp_path / "mine")
    text = str(info.value)
    assert "'cifar10'" in text and str(tmp_path / "mine") in text and "cache" in text
    assert "HWK4TUNE_DATA" in text and "--data-dir" in text
    assert info.value.name == "cifar10"


def _idx(path, array: np.ndarray) -> None:
    """Write an IDX file (MNIST's format), gzipped."""
    dtype_code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, dtype_code, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_debian_layout(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 50), ("t10k", 20)):
        _idx(debian / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _idx(debian / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    monkeypatch.setattr(data_mod, "DEBIAN_FASHION_MNIST", debian)
    d = load_dataset("fashion_mnist", val_fraction=0.2)
    assert d.sizes() == {"train": 40, "val": 10, "test": 20} and d.input_shape == (1, 28, 28)
    raw = tmp_path / "cache" / "data" / "FashionMNIST" / "raw"
    assert (raw / "train-images-idx3-ubyte").is_file()
    assert d.source.startswith(str(tmp_path / "cache"))
    # A folder given by the user is searched first, in torchvision's layout.
    d2 = load_dataset("fashion_mnist", data_dir=tmp_path / "cache" / "data")
    assert d2.sizes()["test"] == 20
