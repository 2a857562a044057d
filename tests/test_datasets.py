"""mnist.pkl.gz (hash before unpickling, own split), CIFAR-10 python batches, `hwk4tune data list/fetch`."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle

import numpy as np
import pytest
import torch

from hwk4tune.cli import main
from hwk4tune.learn.data import load_dataset
from hwk4tune.learn.datasets import cifar, mnist_pkl
from hwk4tune.learn.datasets.catalog import list_datasets
from hwk4tune.learn.datasets.safe_pickle import FileCheckError, KnownFile, UnsafePickleError, dumps_arrays


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HWK4TUNE_DATA", raising=False)
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")


def _fake_mnist_pkl(path, sizes=(50, 20, 30), seed=0) -> KnownFile:
    """mnist.pkl.gz's layout: three (N×784 float32 in [0, 1), int64 labels) pairs; returns its facts."""
    rng = np.random.default_rng(seed)
    splits = tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)) for n in sizes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(dumps_arrays(splits))
    blob = path.read_bytes()
    return KnownFile("mnist.pkl.gz", len(blob), hashlib.sha256(blob).hexdigest())


def test_wrong_hash_is_refused_in_one_line_before_unpickling(tmp_path, capsys):
    # A pickle that would run code when loaded: the hash check must refuse it before any unpickling.
    marker = tmp_path / "pwned"
    evil = tmp_path / "data" / "mnist.pkl.gz"
    evil.parent.mkdir()

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with gzip.open(evil, "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(FileCheckError, match="refusing to unpickle"):
        load_dataset("mnist", data_dir=tmp_path / "data")
    assert not marker.exists()
    code = main(["train", str(_space_file(tmp_path)), "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data-dir", str(tmp_path / "data"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(evil) in err[0] and "refusing to unpickle" in err[0] and "hwk4tune data fetch mnist" in err[0]
    assert not marker.exists()


def _space_file(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text("trainable: cnn\ndataset: {name: mnist}\nmax_epochs: 1\nspace: {hidden: 16}\n")
    return p


def test_right_hash_loads_with_its_own_split(tmp_path, monkeypatch):
    facts = _fake_mnist_pkl(tmp_path / "data" / "MNIST" / "mnist.pkl.gz")
    monkeypatch.setattr(mnist_pkl, "MNIST_PKL", facts)
    d = load_dataset("mnist", data_dir=tmp_path / "data")
    assert d.sizes() == {"train": 50, "val": 20, "test": 30} and d.input_shape == (1, 28, 28)
    assert d.split.startswith("own validation split") and "SHA-256 verified" in d.source
    assert abs(float(d.train_x.mean())) < 1e-4  # normalized with the training split's statistics
    # val_fraction given: the 70 training-pool images are split afresh
    d2 = load_dataset("mnist", data_dir=tmp_path / "data", val_fraction=0.5)
    assert d2.sizes() == {"train": 35, "val": 35, "test": 30} and d2.split.startswith("random 0.5")
    # subset with the own split: both shrink in proportion (50:20)
    d3 = load_dataset("mnist", data_dir=tmp_path / "data", subset=14)
    assert d3.sizes() == {"train": 10, "val": 4, "test": 14}


def test_other_data_sets_default_to_a_tenth_for_validation():
    d = load_dataset("digits")
    assert d.sizes()["val"] == round(0.1 * (d.sizes()["train"] + d.sizes()["val"]))
    assert d.split == "random 0.1 (seed 0)"


def test_unsafe_globals_are_refused_even_with_a_matching_hash(tmp_path, monkeypatch):
    path = tmp_path / "data" / "mnist.pkl.gz"
    path.parent.mkdir()
    with gzip.open(path, "wb") as f:
        pickle.dump((os.system, "true"), f)  # not print: Ray may replace builtins.print in a long session
    blob = path.read_bytes()
    monkeypatch.setattr(mnist_pkl, "MNIST_PKL", KnownFile("mnist.pkl.gz", len(blob), hashlib.sha256(blob).hexdigest()))
    with pytest.raises(UnsafePickleError, match=r"(posix|os)\.system"):
        load_dataset("mnist", data_dir=tmp_path / "data")


def test_data_list_says_what_is_present_and_where(tmp_path, monkeypatch, capsys):
    facts = _fake_mnist_pkl(tmp_path / "cache" / "data" / "mnist.pkl.gz")
    monkeypatch.setattr(mnist_pkl, "MNIST_PKL", facts)
    entries = {e.name: e for e in list_datasets(debian=tmp_path / "no-debian")}
    assert entries["mnist"].present and str(tmp_path / "cache") in entries["mnist"].source
    assert not entries["cifar10"].present and not entries["fashion_mnist"].present
    assert entries["digits"].present
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "mnist.pkl.gz (SHA-256 verified" in out and "searched:" in out
    # a tampered file is listed as refused
    monkeypatch.setattr(mnist_pkl, "MNIST_PKL", KnownFile("mnist.pkl.gz", facts.size, "0" * 64))
    assert not {e.name: e for e in list_datasets()}["mnist"].present


def test_fetch_refuses_what_cannot_be_fetched(capsys):
    assert main(["data", "fetch", "cifar10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be fetched" in err[0]


# --------------------------------------------------------------------------------------------- CIFAR-10

def _cifar_folder(root, n_train=8, n_test=6, channels_last=False, seed=0):
    """A tiny cifar-10-batches-py/: five training batches and a test batch of dicts with bytes keys."""
    rng = np.random.default_rng(seed)
    folder = root / cifar.FOLDER
    folder.mkdir(parents=True)
    images = {}
    for name, n in [*((b, n_train) for b in cifar.TRAIN_BATCHES), (cifar.TEST_BATCH, n_test)]:
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        images[name] = x
        data = x.transpose(0, 2, 3, 1) if channels_last else x.reshape(n, 3072)
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": np.ascontiguousarray(data), b"filenames": [b"x.png"] * n}
        (folder / name).write_bytes(dumps_arrays(batch))
    return images


@pytest.mark.parametrize("channels_last", [False, True])
def test_cifar10_from_python_batches(tmp_path, channels_last):
    images = _cifar_folder(tmp_path / "root", channels_last=channels_last)
    (px, py), (tx, ty) = cifar.read(tmp_path / "root" / cifar.FOLDER)
    assert px.shape == (40, 3, 32, 32) and tx.shape == (6, 3, 32, 32) and px.dtype == np.uint8
    # channels-last rows are converted, not reinterpreted: pixel (c, h, w) stays where it was
    np.testing.assert_array_equal(px[:8], images["data_batch_1"])
    np.testing.assert_array_equal(tx, images["test_batch"])
    d = load_dataset("cifar10", data_dir=tmp_path / "root", val_fraction=0.25)
    assert d.sizes() == {"train": 30, "val": 10, "test": 6} and d.input_shape == (3, 32, 32)
    assert d.source == str(tmp_path / "root" / cifar.FOLDER)


def test_cifar10_bad_shape_is_one_line(tmp_path):
    folder = tmp_path / cifar.FOLDER
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(dumps_arrays({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(FileCheckError, match="expected N×3072"):
        cifar.read_batch(folder / "data_batch_1")


def test_resnet_trainable_runs_on_cifar_layout(tmp_path, ray_local):
    from ray import tune

    from hwk4tune.tune.trainables import build_trainable

    _cifar_folder(tmp_path / "root", n_train=12, n_test=8, channels_last=True)
    data = load_dataset("cifar10", data_dir=tmp_path / "root", val_fraction=0.2)
    tuner = tune.Tuner(
        tune.with_resources(build_trainable("resnet", data, max_epochs=1), {"cpu": 1}),
        param_space={"finetune": "head", "batch_size": 16, "lr": 1e-3, "pretrained": "none"},
        tune_config=tune.TuneConfig(num_samples=1, metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "runs"), name="cifar", verbose=0),
    )
    result = tuner.fit()[0]
    assert result.error is None
    assert result.metrics["epoch"] == 1 and result.metrics["train_status"] == "ok"
    # the share of the validation images (20 % of the 60 training ones) it got right, a count over them
    n_val = len(data.val_x)
    assert n_val == 12, n_val  # _cifar_folder: 5 batches of 12
    assert result.metrics["val_accuracy"] * n_val == pytest.approx(round(result.metrics["val_accuracy"] * n_val))
    assert torch.isfinite(torch.tensor(result.metrics["val_loss"])) and result.metrics["val_loss"] > 0
