"""Experiments in remote storage (``s3://…``, ``gs://…``) for the commands that read files: ``table``,
``best`` and ``report`` copy the experiment folder into a local mirror first, then read that.

The mirror is ``$HWK4TUNE_CACHE/remote/<scheme>/<bucket>/<path>`` (default ``~/.cache/hwk4tune``); each call
brings it up to date with the remote folder (files are copied again, none is deleted), so a mirror of a
running sweep shows its state at the time of the call. Ray's pyarrow file systems do the copying: the same
credentials and endpoint variables as ``run --storage`` (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, …).
"""

from __future__ import annotations

import os
from pathlib import Path

from hwk4tune.errors import InputError
from hwk4tune.records import is_uri, storage_location


def mirror_root() -> Path:
    return Path(os.environ.get("HWK4TUNE_CACHE", Path.home() / ".cache" / "hwk4tune")) / "remote"


def local_copy(uri: str) -> Path:
    """The local mirror of the remote folder ``uri`` (copied now); one-line :class:`InputError` if absent."""
    import pyarrow.fs

    try:
        fs, path = pyarrow.fs.FileSystem.from_uri(uri.rstrip("/"))
        info = fs.get_file_info(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{uri}: cannot be read ({str(exc).splitlines()[0]})") from None
    if info.type != pyarrow.fs.FileType.Directory:
        raise InputError(f"{uri}: no such folder")
    scheme = uri.split("://", 1)[0].lower()
    target = mirror_root() / scheme / path.strip("/")
    target.mkdir(parents=True, exist_ok=True)
    pyarrow.fs.copy_files(path, str(target), source_filesystem=fs,
                          destination_filesystem=pyarrow.fs.LocalFileSystem())
    return target


def readable(path: str | Path) -> Path:
    """A folder to read: a URI's local mirror, else the path itself (``file://PATH`` is the folder PATH)."""
    return local_copy(str(path)) if is_uri(path) else Path(storage_location(str(path)))
