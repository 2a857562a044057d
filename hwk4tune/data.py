"""Data sets as whole, normalized tensors, split train / validation / test with a fixed seed.

Each loader returns uint8 (or float) images once; :func:`load_dataset` turns them into float32 tensors
N×C×H×W normalized with the training split's per-channel mean and std. There are no per-image transform
pipelines: on this project's 2-core machines those were 1.7× slower than indexing in-memory tensors.

Where the files come from (first hit wins), for the torchvision data sets:

1. ``data_dir`` (the ``--data-dir`` flag / ``dataset.data_dir`` in YAML), then ``$HWK4TUNE_DATA``, then the
   cache ``$HWK4TUNE_CACHE`` (default ``~/.cache/hwk4tune/data``) — each as a torchvision ``root``
   (``ROOT/FashionMNIST/raw/``, ``ROOT/MNIST/raw/``, ``ROOT/cifar-10-batches-py/``);
2. Fashion-MNIST only: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*.gz``),
   unzipped once into the cache;
3. a download into the first of those roots, where the internet is reachable (never tried when
   ``HWK4TUNE_OFFLINE=1``).

If none works, :class:`DataNotFoundError` names the data set, the folders searched and how to provide it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hwk4tune.errors import InputError
from hwk4tune.registry import dataset_entry

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FAKE_SHAPE = (3, 32, 32)  # CIFAR-shaped unless told otherwise
FAKE_SIZE = 1200  # training pool (train + validation) of the fake data set
DOWNLOAD_TIMEOUT_S = 20.0


class DataNotFoundError(InputError, FileNotFoundError):
    """A data set is not on this machine and could not be downloaded."""

    def __init__(self, name: str, searched: list[Path], hint: str, cause: str = ""):
        self.name = name
        self.searched = list(searched)
        # one line, as every bad-input message of the command line
        parts = [f"data set {name!r} not found", "searched " + (", ".join(str(p) for p in searched) or "no folders")]
        if cause:
            parts.append(f"download failed: {cause}")
        parts.append(f"to provide it: {hint}")
        super().__init__("; ".join(parts))


@dataclass
class DataSplits:
    """Normalized float32 images N×C×H×W and int64 labels, for the three splits."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    name: str
    source: str  # where the images came from: a folder, "scikit-learn", "torchvision.FakeData"
    mean: tuple[float, ...] = field(default=())  # per channel, of the raw pixels in [0, 1]
    std: tuple[float, ...] = field(default=())

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "val": len(self.val_y), "test": len(self.test_y)}

    def train_and_val(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training and validation images together (what ``hwk4tune train`` fits on)."""
        return torch.cat([self.train_x, self.val_x]), torch.cat([self.train_y, self.val_y])

    def __repr__(self) -> str:
        return (f"DataSplits({self.name!r}, {self.sizes()}, shape={self.input_shape}, "
                f"classes={self.num_classes}, source={self.source!r})")


@dataclass
class _Raw:
    """What a loader returns: pixels in [0, 1] (float) or 0..255 (uint8), N×C×H×W, before any split."""

    pool_x: torch.Tensor  # the training pool: split into train and validation
    pool_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    source: str


# --------------------------------------------------------------------------------------------- loaders

def load_digits(data_dir: Path | None, **_) -> _Raw:
    """scikit-learn's 1,797 8×8 digits, resized to 28×28 so the seed's CNN runs on them unchanged."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # N×1×8×8 in [0, 1]
    x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    # No official test split: a fixed 20 % (independent of the seed that splits train/validation).
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    n_test = len(y) // 5
    test, pool = perm[:n_test], perm[n_test:]
    return _Raw(x[pool], y[pool], x[test], y[test], 10, "scikit-learn load_digits (8x8 -> 28x28)")


def load_fake(data_dir: Path | None, shape: tuple[int, int, int] | None = None,
               size: int | None = None, num_classes: int = 10, **_) -> _Raw:
    """torchvision's FakeData (random images, random labels) of any shape, for tests."""
    from torchvision.datasets import FakeData

    shape = tuple(shape or FAKE_SHAPE)
    n_pool = int(size or FAKE_SIZE)
    n_test = max(n_pool // 5, 1)

    def make(n: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        ds = FakeData(size=n, image_size=shape, num_classes=num_classes, random_offset=offset)
        xs, ys = [], []
        for i in range(n):
            img, label = ds[i]
            arr = np.asarray(img, dtype=np.uint8)
            xs.append(arr if arr.ndim == 3 else arr[:, :, None])
            ys.append(int(label))
        x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()
        return x, torch.tensor(ys, dtype=torch.int64)

    px, py = make(n_pool, 0)
    tx, ty = make(n_test, n_pool)
    return _Raw(px, py, tx, ty, num_classes, f"torchvision.FakeData {shape}")


def _cache_root() -> Path:
    return Path(os.environ.get("HWK4TUNE_CACHE", Path.home() / ".cache" / "hwk4tune")) / "data"


def _roots(data_dir: Path | None) -> list[Path]:
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser())
    if os.environ.get("HWK4TUNE_DATA"):
        roots.append(Path(os.environ["HWK4TUNE_DATA"]).expanduser())
    roots.append(_cache_root())
    out: list[Path] = []
    for r in roots:
        if r not in out:
            out.append(r)
    return out


def _prepare_debian_fashion_mnist(cache: Path) -> Path | None:
    """Unzip Debian's gzipped IDX files into ``cache/FashionMNIST/raw/`` (torchvision's layout)."""
    gz = sorted(DEBIAN_FASHION_MNIST.glob("*-ubyte.gz")) if DEBIAN_FASHION_MNIST.is_dir() else []
    if len(gz) < 4:
        return None
    raw = cache / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for src in gz:
        dst = raw / src.name[:-3]
        if not dst.exists() or dst.stat().st_size == 0:
            tmp = dst.with_suffix(".partial")
            with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            tmp.replace(dst)
    return cache


def _torchvision_loader(cls_name: str, folder: str, hint: str, debian: bool = False) -> Callable[..., _Raw]:
    def load(data_dir: Path | None, **_) -> _Raw:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        roots = _roots(data_dir)
        searched = [r / folder for r in roots]

        def open_root(root: Path, download: bool = False):
            return cls(str(root), train=True, download=download), cls(str(root), train=False, download=download)

        found = None
        for root in roots:
            try:
                found = (root, open_root(root))
                break
            except (RuntimeError, FileNotFoundError, OSError):
                continue
        if found is None and debian:
            searched.append(DEBIAN_FASHION_MNIST)
            try:
                root = _prepare_debian_fashion_mnist(_cache_root())
                if root is not None:
                    found = (root, open_root(root))
            except (RuntimeError, OSError):
                found = None
        cause = "not tried (HWK4TUNE_OFFLINE=1)" if os.environ.get("HWK4TUNE_OFFLINE") == "1" else ""
        if found is None and not cause:
            root = roots[0]
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
            try:
                found = (root, open_root(root, download=True))
            except Exception as exc:  # noqa: BLE001 - every download failure means "not available"
                cause = " ".join(str(exc).split())[:300] or type(exc).__name__
            finally:
                socket.setdefaulttimeout(old)
        if found is None:
            raise DataNotFoundError(cls_name_to_name[cls_name], searched, hint, cause)
        root, (train, test) = found
        return _Raw(_images(train.data), torch.as_tensor(train.targets, dtype=torch.int64),
                    _images(test.data), torch.as_tensor(test.targets, dtype=torch.int64),
                    10, f"{root / folder}")

    return load


def _images(data) -> torch.Tensor:
    """torchvision's ``.data`` (N×H×W uint8 tensor, or N×H×W×C numpy) -> N×C×H×W uint8."""
    t = torch.as_tensor(np.asarray(data))
    return t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


cls_name_to_name = {"FashionMNIST": "fashion_mnist", "MNIST": "mnist", "CIFAR10": "cifar10"}
_FOLDER_HINT = ("pass a folder with --data-dir DIR or set HWK4TUNE_DATA=DIR, where DIR is a torchvision "
                "root holding {layout}; or run once where the internet is reachable (it downloads into "
                "the first folder searched).")

# The loaders the registry (hwk4tune.registry.DATASETS) names.
load_fashion_mnist = _torchvision_loader(
    "FashionMNIST", "FashionMNIST/raw",
    "apt-get install -y dataset-fashion-mnist (Debian), or "
    + _FOLDER_HINT.format(layout="FashionMNIST/raw/{train,t10k}-*-ubyte"), debian=True)
load_mnist = _torchvision_loader("MNIST", "MNIST/raw", _FOLDER_HINT.format(layout="MNIST/raw/{train,t10k}-*-ubyte"))
load_cifar10 = _torchvision_loader(
    "CIFAR10", "cifar-10-batches-py", _FOLDER_HINT.format(layout="cifar-10-batches-py/ (the python version)"))


# ------------------------------------------------------------------------------------------ the entry

def load_dataset(name: str, *, subset: int | None = None, data_dir: str | Path | None = None,
                 val_fraction: float = 0.1, seed: int = 0, shape: tuple[int, int, int] | None = None,
                 size: int | None = None) -> DataSplits:
    """Load a data set as normalized tensors split train / validation / test.

    ``subset``: use at most this many images of the training pool (train + validation, drawn at random with
    ``seed``) and at most this many test images (the first ones; the test set never depends on the seed).
    ``val_fraction`` of the (sub)pool becomes the validation split, chosen with ``seed``.
    ``shape`` (C, H, W) and ``size`` (training-pool size) apply to ``fake`` only.
    """
    loader = dataset_entry(name).load()
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must satisfy 0 < val_fraction < 1, but got {val_fraction}")
    if subset is not None and (not isinstance(subset, int) or subset < 2):
        raise ValueError(f"subset must be an integer >= 2 (or null for everything), but got {subset!r}")
    if (shape is not None or size is not None) and name != "fake":
        raise ValueError(f"shape and size apply to the 'fake' data set only, not {name!r}")
    raw = loader(Path(data_dir) if data_dir is not None else None, shape=shape, size=size)

    g = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(raw.pool_y), generator=g)
    if subset is not None:
        perm = perm[:subset]
    n_val = max(1, int(round(len(perm) * val_fraction)))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    test_x, test_y = raw.test_x, raw.test_y
    if subset is not None:
        test_x, test_y = test_x[:subset], test_y[:subset]

    train_x = _to_unit(raw.pool_x[train_idx])
    mean = train_x.mean(dim=(0, 2, 3))
    std = train_x.std(dim=(0, 2, 3)).clamp_min(1e-6)

    def norm(x: torch.Tensor) -> torch.Tensor:
        return ((x - mean[None, :, None, None]) / std[None, :, None, None]).contiguous()

    return DataSplits(
        train_x=norm(train_x), train_y=raw.pool_y[train_idx].clone(),
        val_x=norm(_to_unit(raw.pool_x[val_idx])), val_y=raw.pool_y[val_idx].clone(),
        test_x=norm(_to_unit(test_x)), test_y=test_y.clone(),
        num_classes=raw.num_classes, name=name, source=raw.source,
        mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std),
    )


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
