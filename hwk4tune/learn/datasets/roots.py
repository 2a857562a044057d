"""The folders every file-backed data set is searched in, first hit wins.

1. ``data_dir`` (the ``--data-dir`` flag / ``dataset.data_dir`` in YAML);
2. ``$HWK4TUNE_DATA``;
3. the cache, ``$HWK4TUNE_CACHE/data`` (default ``~/.cache/hwk4tune/data``): where ``hwk4tune data fetch``
   writes.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$HWK4TUNE_CACHE/data``, default ``~/.cache/hwk4tune/data``."""
    return Path(os.environ.get("HWK4TUNE_CACHE", Path.home() / ".cache" / "hwk4tune")) / "data"


def data_roots(data_dir: str | Path | None) -> list[Path]:
    """``data_dir``, ``$HWK4TUNE_DATA``, the cache: without duplicates, in that order."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser())
    if os.environ.get("HWK4TUNE_DATA"):
        roots.append(Path(os.environ["HWK4TUNE_DATA"]).expanduser())
    roots.append(cache_root())
    out: list[Path] = []
    for r in roots:
        if r not in out:
            out.append(r)
    return out


def offline() -> bool:
    """``HWK4TUNE_OFFLINE=1``: never try a download."""
    return os.environ.get("HWK4TUNE_OFFLINE") == "1"
