"""Is each data set a spec file names on this machine? Asked before anything runs: by ``validate`` (an error),
by ``run``, ``compare`` and ``record`` before Ray starts (an error offline; online they try the download).

Each missing data set is one line at the file's ``dataset.name``: the folders searched and a fix that works
with the command that printed it (every verb that checks accepts ``--data-dir DIR``). Presence is what
``hwk4tune data list`` says (:mod:`hwk4tune.learn.datasets.catalog`): no image is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hwk4tune.errors import InputError
from hwk4tune.spec import Problem
from hwk4tune.spec.source import Source
from hwk4tune.store.records import is_uri

# where each file-backed data set is looked for under a data root, and the other ways to get it
_LAYOUT = {
    "cifar10": "cifar-10-batches-py/ (the python version, all six batches)",
    "mnist": "mnist.pkl.gz, MNIST/mnist.pkl.gz or MNIST/raw/ (torchvision's IDX files)",
    "fashion_mnist": "FashionMNIST/raw/ (torchvision's IDX files)",
}
_OTHER_WAY = {
    "mnist": "run `hwk4tune data fetch mnist`, or ",
    "fashion_mnist": "install Debian's package (apt-get install -y dataset-fashion-mnist), or ",
}


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the data set, searched first (overrides the "
                   "file's dataset.data_dir; then $HWK4TUNE_DATA, then the cache)")


def refuse_uri(value: str | None, argument: str, why: str) -> None:
    """A storage URI (``s3://…``) where only a path on this machine means something: one line naming the
    argument, exit 2 (``file:///PATH`` is the path PATH, so it passes)."""
    if value is not None and is_uri(value):
        raise InputError(f"{argument} {value}: a storage URI cannot be used here: {why}")


def local_data_dir(data_dir: str | None) -> str | None:
    """``--data-dir`` as given; a storage URI is refused (:func:`refuse_uri`): data sets are read from a folder
    on this machine."""
    refuse_uri(data_dir, "--data-dir", "data sets are read from a folder on this machine: copy the data here and "
               "give that folder")
    return data_dir


def with_data_dir(overrides: Any, data_dir: str | None) -> Any:
    """``--data-dir DIR`` added to ``overrides`` (what ``parse_overrides`` returns) as ``dataset.data_dir``
    (absolute: a relative DIR is the current folder's), remembered as given by ``--data-dir``."""
    if local_data_dir(data_dir) is not None:
        overrides.given("dataset.data_dir", str(Path(data_dir).expanduser().resolve()), "--data-dir", data_dir)
    return overrides


def spaces_of(spec: Any) -> list[Any]:
    """The space specs whose data a spec trains on (none for a replayed comparison: it trains nothing)."""
    if getattr(spec, "replay", None) is not None:
        return []
    return [spec if hasattr(spec, "trainable") else spec.space]


def missing_data(spec: Any, overrides: dict | None = None) -> list[Problem]:
    """One problem per data set ``spec`` names that is not on this machine, at its ``dataset.name`` line (or
    at the ``--set`` that named it)."""
    from hwk4tune.learn.datasets import catalog
    from hwk4tune.learn.datasets.roots import data_roots

    problems = []
    for space in spaces_of(spec):
        ds = space.dataset
        if ds is None or ds.name not in _LAYOUT:  # digits and fake are always there
            continue
        entry = {e.name: e for e in catalog.list_datasets(ds.data_dir, catalog.DEBIAN_FASHION_MNIST)}.get(ds.name)
        if entry is None or entry.present:
            continue
        roots = [str(r) for r in data_roots(ds.data_dir)]
        if ds.name == "fashion_mnist":
            roots.append(f"{catalog.DEBIAN_FASHION_MNIST} (Debian's package)")
        if entry.source != "not found":  # there, but refused (a wrong hash): the catalog says what to do
            message = f"data set {ds.name!r}: {entry.source}: {entry.how}"
        else:
            message = (f"data set {ds.name!r} is not on this machine (searched {', '.join(roots)}): "
                       f"{_OTHER_WAY.get(ds.name, '')}put {_LAYOUT[ds.name]} in a folder DIR and pass --data-dir DIR "
                       "(or set HWK4TUNE_DATA=DIR)")
        problems.append(_at_set(overrides, message) or _at_dataset(space.source, message))
    return problems


def _at_set(overrides: Any, message: str) -> Problem | None:
    """The ``--set dataset=NAME`` (or ``dataset.name=NAME``) that named the data set, if one did."""
    for key in ("dataset.name", "dataset", "space.dataset.name", "space.dataset"):
        if overrides and key in overrides:
            flag, written = overrides.origin(key)
            return Problem(flag, None, written[:80], f"dataset.name: {message}")
    return None


def _at_dataset(source: Path | None, message: str) -> Problem:
    """The problem at the ``dataset.name`` of the file that holds the space (inline in a sweep file too)."""
    if source is None:
        return Problem("dataset", None, "dataset.name", message)
    src = Source(Path(source))
    for path in (("dataset", "name"), ("space", "dataset", "name"), ("dataset",), ("space", "dataset")):
        if path in src.lines:
            key = ".".join(path) if path[-1] == "name" else ".".join(path) + ".name"
            return Problem(src.name, src.lines[path], key, message)
    return Problem(src.name, None, "dataset.name", message)
