"""Which data sets are on this machine, and where each would be loaded from (``hwk4tune data list``).

Looks in the same places, in the same order, as the loaders; reads no images (the MNIST pickle's hash is
checked: a file that would be refused is listed as such).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwk4tune.learn.datasets import cifar, mnist_pkl
from hwk4tune.learn.datasets.roots import data_roots
from hwk4tune.learn.datasets.safe_pickle import FileCheckError, verify
from hwk4tune.registry import DATASETS

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class Entry:
    name: str
    present: bool
    source: str  # where it loads from, or why it would not
    how: str = ""  # how to get it, when absent


def _idx_root(data_dir, folder: str) -> Path | None:
    for root in data_roots(data_dir):
        raw = root / folder / "raw"
        if all((raw / f).is_file() or (raw / (f + ".gz")).is_file() for f in IDX_FILES):
            return raw
    return None


def _mnist(data_dir) -> Entry:
    path = mnist_pkl.find(data_dir)
    if path is not None:
        try:
            verify(path, mnist_pkl.MNIST_PKL, "mnist")
            return Entry("mnist", True, f"{path} (SHA-256 verified; 50k/10k/10k split)")
        except FileCheckError:
            return Entry("mnist", False, f"{path} has the wrong SHA-256 (refused)",
                         "delete it and run `hwk4tune data fetch mnist`")
    raw = _idx_root(data_dir, "MNIST")
    if raw is not None:
        return Entry("mnist", True, f"{raw} (torchvision IDX files)")
    return Entry("mnist", False, "not found", "hwk4tune data fetch mnist")


def _fashion(data_dir, debian: Path) -> Entry:
    raw = _idx_root(data_dir, "FashionMNIST")
    if raw is not None:
        return Entry("fashion_mnist", True, f"{raw} (torchvision IDX files)")
    if debian.is_dir() and len(list(debian.glob("*-ubyte.gz"))) >= 4:
        return Entry("fashion_mnist", True, f"{debian} (Debian package dataset-fashion-mnist)")
    return Entry("fashion_mnist", False, "not found", "apt-get install -y dataset-fashion-mnist")


def _cifar(data_dir) -> Entry:
    folder = cifar.find(data_dir)
    if folder is not None:
        return Entry("cifar10", True, f"{folder} (python pickle batches)")
    return Entry("cifar10", False, "not found",
                 f"put {cifar.FOLDER}/ (the python version) in --data-dir DIR or $HWK4TUNE_DATA, "
                 f"or load it once where the internet is reachable")


def list_datasets(data_dir: str | Path | None = None, debian: Path = DEBIAN_FASHION_MNIST) -> list[Entry]:
    """One :class:`Entry` per registered data set, in registry order."""
    found = {
        "digits": Entry("digits", True, "scikit-learn load_digits (shipped with scikit-learn)"),
        "fake": Entry("fake", True, "torchvision FakeData (generated)"),
        "mnist": _mnist(data_dir),
        "fashion_mnist": _fashion(data_dir, debian),
        "cifar10": _cifar(data_dir),
    }
    return [found[name] for name in tuple(DATASETS)]


def format_table(entries: list[Entry], roots: list[Path]) -> str:
    width = max(len(e.name) for e in entries)
    lines = [f"{'data set':<{width}}  present  source"]
    for e in entries:
        lines.append(f"{e.name:<{width}}  {'yes' if e.present else 'no ':<7}  {e.source}"
                     + (f"  -> to get it: {e.how}" if e.how else ""))
    lines.append("searched: " + ", ".join(str(r) for r in roots))
    return "\n".join(lines)


FETCHERS = {"mnist": mnist_pkl.fetch}
