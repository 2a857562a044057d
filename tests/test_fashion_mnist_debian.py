"""The real Fashion-MNIST of Debian's ``dataset-fashion-mnist`` (60,000 training and 10,000 test images).
CI installs the package (``.ci/run``); there a skip of this test is a failure (``ci_required``)."""

from __future__ import annotations

import pytest

from hwk4tune.learn import data as data_mod

pytestmark = pytest.mark.ci_required


@pytest.mark.skipif(not (data_mod.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
def test_debian_fashion_mnist_has_every_image(tmp_path, monkeypatch):
    monkeypatch.setenv("HWK4TUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HWK4TUNE_DATA", raising=False)
    monkeypatch.setenv("HWK4TUNE_OFFLINE", "1")
    d = data_mod.load_dataset("fashion_mnist", val_fraction=0.1)
    sizes = d.sizes()
    assert sizes["train"] + sizes["val"] == 60_000 and sizes["test"] == 10_000
    assert sizes["val"] == 6_000 and d.input_shape == (1, 28, 28)
    assert d.num_classes == 10
    assert d.source.startswith(str(tmp_path / "cache"))  # converted from the package into the cache
    assert d.test_y.bincount().tolist() == [1_000] * 10  # the real test set: 1,000 images of each class
