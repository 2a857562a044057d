"""The seed's CNN, one epoch on the real MNIST (mnist.pkl.gz), test accuracy >= 0.97.

Uses the real data roots and cache ($HWK4TUNE_CACHE, default ~/.cache/hwk4tune): where no mnist.pkl.gz is
found, the test fetches it into the cache itself (`mnist_pkl.fetch()`, what `hwk4tune data fetch mnist`
runs), so `make test` needs nothing run before it. A failed fetch FAILS this test: it never skips.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwk4tune.cli import main
from hwk4tune.learn.datasets import mnist_pkl

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_seed_cnn_one_epoch_on_real_mnist(tmp_path, capsys):
    if mnist_pkl.find(None) is None:
        try:
            mnist_pkl.fetch()
        except mnist_pkl.FetchError as exc:
            pytest.fail(f"real MNIST is not in the data roots ({', '.join(map(str, mnist_pkl.candidates(None)))}) "
                        f"and fetching it failed: {exc}", pytrace=False)
    assert mnist_pkl.find(None) is not None
    code = main(["train", str(ROOT / "launch" / "mnist_seed" / "adam_bn.yaml"), "--epochs", "1", "--seed", "0",
                 "--out", str(tmp_path / "out"), "-q"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["dataset"]["sizes"] == {"train": 50000, "val": 10000, "test": 10000}
    assert "SHA-256 verified" in metrics["dataset"]["source"]
    assert metrics["test_accuracy"] >= 0.97, metrics["test_accuracy"]
