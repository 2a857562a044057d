"""Data sets as whole, normalized tensors, split train / validation / test with a fixed seed.

Each loader returns uint8 (or float) images once; :func:`load_dataset` turns them into float32 tensors
N×C×H×W normalized with the training split's per-channel mean and std. There are no per-image transform
pipelines: on this project's 2-core machines those were 1.7× slower than indexing in-memory tensors.

Where the files come from (first hit wins), for the file-backed data sets:

1. ``data_dir`` (the ``--data-dir`` flag / ``dataset.data_dir`` in YAML), then ``$HWK4TUNE_DATA``, then the
   cache ``$HWK4TUNE_CACHE`` (default ``~/.cache/hwk4tune/data``, where ``hwk4tune data fetch`` writes) —
   each a root holding ``mnist.pkl.gz`` or ``MNIST/mnist.pkl.gz`` (checked by SHA-256, its own
   50k/10k/10k split; see :mod:`hwk4tune.learn.datasets.mnist_pkl`), ``MNIST/raw/`` and ``FashionMNIST/raw/``
   (torchvision's IDX layout), ``cifar-10-batches-py/`` (the python pickle batches);
2. Fashion-MNIST only: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*.gz``),
   unzipped once into the cache;
3. a download into the first of those roots, where the internet is reachable (never tried when
   ``HWK4TUNE_OFFLINE=1``).

``val_fraction=None`` takes the data set's own validation split where it has one (``mnist.pkl.gz``), else
a random 10 %.

If none works, :class:`DataNotFoundError` names the data set, the folders searched and how to provide it.
"""

from __future__ import annotations

import gzip
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hwk4tune.errors import InputError
from hwk4tune.learn.datasets import cifar, mnist_pkl
from hwk4tune.learn.datasets.roots import cache_root as _cache_root
from hwk4tune.learn.datasets.roots import data_roots as _roots
from hwk4tune.learn.datasets.roots import offline
from hwk4tune.registry import dataset_entry

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FAKE_SHAPE = (3, 32, 32)  # CIFAR-shaped unless told otherwise
FAKE_SIZE = 1200  # training pool (train + validation) of the fake data set
DOWNLOAD_TIMEOUT_S = 20.0
DEFAULT_VAL_FRACTION = 0.1  # where val_fraction is None and the data set has no validation split of its own


class DataNotFoundError(InputError, FileNotFoundError):
    """A data set is not on this machine and could not be downloaded."""

    def __init__(self, name: str, searched: list[Path], hint: str, cause: str = ""):
        self.name = name
        self.cause = cause
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
    split: str = ""  # how validation was chosen: "own validation split (...)" or "random 0.1 (seed 0)"

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
    val_x: torch.Tensor | None = None  # the data set's own validation split, if it has one
    val_y: torch.Tensor | None = None


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
        cause = "not tried (HWK4TUNE_OFFLINE=1)" if offline() else ""
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


def load_mnist(data_dir: Path | None, **_) -> _Raw:
    """``mnist.pkl.gz`` (hash-checked, its own validation split) where a data root has it, else
    torchvision's IDX layout ``ROOT/MNIST/raw/`` (or its download)."""
    for root in _roots(data_dir):
        path = next((root / rel for rel in mnist_pkl.LAYOUTS if (root / rel).is_file()), None)
        if path is not None:
            (tx, ty), (vx, vy), (sx, sy) = mnist_pkl.read(path)
            t = torch.from_numpy
            return _Raw(t(tx).unsqueeze(1), t(ty), t(sx).unsqueeze(1), t(sy), 10, f"{path} (SHA-256 verified)",
                        val_x=t(vx).unsqueeze(1), val_y=t(vy))
        if (root / "MNIST" / "raw").is_dir():
            break  # torchvision's layout in an earlier root wins over a pickle in a later one
    try:
        return _mnist_idx(data_dir)
    except DataNotFoundError as exc:
        raise DataNotFoundError("mnist", [*mnist_pkl.candidates(data_dir), *exc.searched], _MNIST_HINT,
                                exc.cause) from None


def load_cifar10(data_dir: Path | None, **_) -> _Raw:
    """``cifar-10-batches-py/`` in a data root (read with the array-only unpickler), else a download
    into the first root where the internet is reachable."""
    folder = cifar.find(data_dir)
    roots = _roots(data_dir)
    cause = "not tried (HWK4TUNE_OFFLINE=1)" if offline() else ""
    if folder is None and not cause:
        from torchvision.datasets import CIFAR10

        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            CIFAR10(str(roots[0]), train=True, download=True)
            folder = cifar.find(data_dir)
        except Exception as exc:  # noqa: BLE001 - every download failure means "not available"
            cause = " ".join(str(exc).split())[:300] or type(exc).__name__
        finally:
            socket.setdefaulttimeout(old)
    if folder is None:
        raise DataNotFoundError("cifar10", [r / cifar.FOLDER for r in roots], _CIFAR_HINT, cause)
    (px, py), (tx, ty) = cifar.read(folder)
    return _Raw(torch.from_numpy(px), torch.from_numpy(py), torch.from_numpy(tx), torch.from_numpy(ty),
                10, str(folder))


cls_name_to_name = {"FashionMNIST": "fashion_mnist", "MNIST": "mnist", "CIFAR10": "cifar10"}
_FOLDER_HINT = ("pass a folder with --data-dir DIR or set HWK4TUNE_DATA=DIR, where DIR is a torchvision "
                "root holding {layout}; or run once where the internet is reachable (it downloads into "
                "the first folder searched).")

_MNIST_HINT = ("run `hwk4tune data fetch mnist` (puts mnist.pkl.gz in the cache), or "
               + _FOLDER_HINT.format(layout="mnist.pkl.gz or MNIST/raw/{train,t10k}-*-ubyte"))
_CIFAR_HINT = _FOLDER_HINT.format(layout="cifar-10-batches-py/ (the python version)")
_mnist_idx = _torchvision_loader("MNIST", "MNIST/raw", _MNIST_HINT)

# The loaders the registry (hwk4tune.registry.DATASETS) names, besides load_digits, load_mnist,
# load_cifar10 and load_fake above.
load_fashion_mnist = _torchvision_loader(
    "FashionMNIST", "FashionMNIST/raw",
    "apt-get install -y dataset-fashion-mnist (Debian), or "
    + _FOLDER_HINT.format(layout="FashionMNIST/raw/{train,t10k}-*-ubyte"), debian=True)


# ------------------------------------------------------------------------------------------ the entry

def load_dataset(name: str, *, subset: int | None = None, data_dir: str | Path | None = None,
                 val_fraction: float | None = None, seed: int = 0, shape: tuple[int, int, int] | None = None,
                 size: int | None = None) -> DataSplits:
    """Load a data set as normalized tensors split train / validation / test.

    ``subset``: use at most this many images of the training pool (train + validation, drawn at random with
    ``seed``) and at most this many test images (the first ones; the test set never depends on the seed).
    ``val_fraction``: that fraction of the (sub)pool becomes the validation split, chosen with ``seed``;
    ``None`` keeps the data set's own validation split where it has one (``mnist.pkl.gz``: 50k / 10k;
    with ``subset``, both shrink in proportion), else takes :data:`DEFAULT_VAL_FRACTION`.
    ``shape`` (C, H, W) and ``size`` (training-pool size) apply to ``fake`` only.
    """
    loader = dataset_entry(name).load()
    _check_arguments(name, subset, val_fraction, shape, size)
    raw = loader(Path(data_dir) if data_dir is not None else None, shape=shape, size=size)

    g = torch.Generator().manual_seed(int(seed))
    if raw.val_x is not None and val_fraction is None:
        train_val, split = _own_split(raw, subset, g)
    else:
        fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
        train_val = _random_split(raw, subset, fraction, g)
        split = f"random {fraction:g} (seed {seed})"
    test_x, test_y = raw.test_x, raw.test_y
    if subset is not None:
        test_x, test_y = test_x[:subset], test_y[:subset]
    return _normalized(name, raw, *train_val, test_x, test_y, split)


def _check_arguments(name: str, subset: int | None, val_fraction: float | None,
                     shape: tuple[int, int, int] | None, size: int | None) -> None:
    """Refuse impossible arguments before a loader reads (or downloads) anything."""
    if val_fraction is not None and not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must satisfy 0 < val_fraction < 1 (or be null), but got {val_fraction}")
    if subset is not None and (not isinstance(subset, int) or subset < 2):
        raise ValueError(f"subset must be an integer >= 2 (or null for everything), but got {subset!r}")
    if (shape is not None or size is not None) and name != "fake":
        raise ValueError(f"shape and size apply to the 'fake' data set only, not {name!r}")


def _own_split(raw: _Raw, subset: int | None, g: torch.Generator) -> tuple[tuple[torch.Tensor, ...], str]:
    """(train_x, train_y, val_x, val_y) from the data set's own validation split, and its description: in
    the published order, or with ``subset`` a random part of each in proportion to their sizes."""
    n_pool, n_own = len(raw.pool_y), len(raw.val_y)
    train_idx = torch.randperm(n_pool, generator=g)
    val_idx = torch.randperm(n_own, generator=g)
    if subset is not None:
        n_val = max(1, int(round(subset * n_own / (n_pool + n_own))))
        train_idx, val_idx = train_idx[:subset - n_val], val_idx[:n_val]
    else:  # keep the published order
        train_idx, val_idx = torch.arange(n_pool), torch.arange(n_own)
    val_y = raw.val_y[val_idx]
    return ((raw.pool_x[train_idx], raw.pool_y[train_idx], raw.val_x[val_idx], val_y),
            f"own validation split ({len(val_y)} of {n_own})")


def _random_split(raw: _Raw, subset: int | None, fraction: float, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    """(train_x, train_y, val_x, val_y): ``fraction`` of the (sub)pool drawn as validation with ``g``; a data
    set's own validation split, if any, goes back into the pool first."""
    all_x, all_y = raw.pool_x, raw.pool_y
    if raw.val_x is not None:  # a fraction was asked for: split the whole pool afresh
        all_x, all_y = torch.cat([raw.pool_x, raw.val_x]), torch.cat([raw.pool_y, raw.val_y])
    perm = torch.randperm(len(all_y), generator=g)
    if subset is not None:
        perm = perm[:subset]
    n_val = max(1, int(round(len(perm) * fraction)))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return all_x[train_idx], all_y[train_idx], all_x[val_idx], all_y[val_idx]


def _normalized(name: str, raw: _Raw, train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                val_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, split: str) -> DataSplits:
    """The splits in [0, 1], then standardized per channel with the training split's mean and std (only
    its statistics: validation and test must not leak into them)."""
    train_x = _to_unit(train_x)
    mean = train_x.mean(dim=(0, 2, 3))
    std = train_x.std(dim=(0, 2, 3)).clamp_min(1e-6)

    def norm(x: torch.Tensor) -> torch.Tensor:
        return ((x - mean[None, :, None, None]) / std[None, :, None, None]).contiguous()

    return DataSplits(
        train_x=norm(train_x), train_y=train_y.clone(),
        val_x=norm(_to_unit(val_x)), val_y=val_y.clone(),
        test_x=norm(_to_unit(test_x)), test_y=test_y.clone(),
        num_classes=raw.num_classes, name=name, source=raw.source,
        mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std), split=split,
    )


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
