"""Folders in remote storage (``s3://…``, ``gs://…``), through a local mirror: the one place for remote copies.

- Reading (``table``, ``best``, ``report``): :func:`local_copy` copies the remote folder into its mirror first,
  then that is read.
- Writing a comparison (``compare --out s3://…``): a :class:`Workspace` assembles the comparison's own files in
  the mirror and pushes them to the URI (its runs are sweeps that Tune writes into the URI itself).

The mirror is ``$HWK4TUNE_CACHE/remote/<scheme>/<bucket>/<path>`` (default ``~/.cache/hwk4tune``); each copy
brings it up to date with the remote folder (files are copied again, none is deleted), so a mirror of a
running sweep shows its state at the time of the call. Ray's pyarrow file systems do the copying: the same
credentials and endpoint variables as ``run --storage`` (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, …).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hwk4tune.errors import InputError
from hwk4tune.store.records import is_uri, storage_location


def mirror_root() -> Path:
    return Path(os.environ.get("HWK4TUNE_CACHE", Path.home() / ".cache" / "hwk4tune")) / "remote"


def _open(uri: str):
    """``(file system, path, is a folder)`` of a URI; one-line :class:`InputError` if it cannot be reached."""
    import pyarrow.fs

    try:
        fs, path = pyarrow.fs.FileSystem.from_uri(uri.rstrip("/"))
        is_dir = fs.get_file_info(path).type == pyarrow.fs.FileType.Directory
    except (OSError, ValueError) as exc:
        raise InputError(f"{uri}: cannot be read ({str(exc).splitlines()[0]})") from None
    return fs, path, is_dir


def mirror_of(uri: str) -> Path:
    """Where the remote folder ``uri`` is mirrored (nothing is copied)."""
    scheme, _, rest = uri.partition("://")
    return mirror_root() / scheme.lower() / rest.split("?", 1)[0].strip("/")  # s3://b/p?endpoint_override=…


def local_copy(uri: str, *, missing_ok: bool = False) -> Path:
    """The local mirror of the remote folder ``uri`` (copied now); one-line :class:`InputError` if absent
    (with ``missing_ok``, an absent folder leaves the mirror as it is)."""
    import pyarrow.fs

    fs, path, is_dir = _open(uri)
    if not is_dir and not missing_ok:
        raise InputError(f"{uri}: no such folder")
    target = mirror_of(uri)
    target.mkdir(parents=True, exist_ok=True)
    if is_dir:
        pyarrow.fs.copy_files(path, str(target), source_filesystem=fs,
                              destination_filesystem=pyarrow.fs.LocalFileSystem())
    return target


def readable(path: str | Path) -> Path:
    """A folder to read: a URI's local mirror, else the path itself (``file://PATH`` is the folder PATH)."""
    return local_copy(str(path)) if is_uri(path) else Path(storage_location(str(path)))


@dataclass(frozen=True)
class Workspace:
    """A folder that hwk4tune writes and reads back: ``local`` is where its files are written and read.

    For a local folder (or ``file://PATH``) that is the folder itself and every method below does nothing
    but the local part; for a URI it is the URI's mirror, which :meth:`pull_all` rebuilds from the URI and
    :meth:`push` copies files of back to it. Paths given to the methods are relative to the folder.
    """

    target: str  # the local folder (absolute) or the URI
    local: Path

    @classmethod
    def of(cls, place: str | Path) -> Workspace:
        target = storage_location(str(place))
        return cls(target, mirror_of(target) if is_uri(target) else Path(target))

    @property
    def remote(self) -> bool:
        return is_uri(self.target)

    def location(self, rel: str | Path) -> str:
        """Where ``rel`` lives: in the local folder, or under the URI."""
        return f"{self.target.rstrip('/')}/{Path(rel).as_posix()}" if self.remote else str(self.local / rel)

    def pull_all(self) -> Path:
        """The local folder; for a URI, its mirror emptied and filled with what the URI holds now (nothing
        if it does not exist yet), so files left in the mirror by an earlier folder at that URI never count."""
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)
            local_copy(self.target, missing_ok=True)
        return self.local

    def pull(self, rel: str | Path) -> Path:
        """The local folder ``rel``, brought up to date from the URI."""
        return local_copy(self.location(rel)) if self.remote else self.local / rel

    def push(self, *rels: str | Path) -> list[str]:
        """Copy these local files to the URI (files that do not exist locally are skipped); their locations."""
        present = [Path(r) for r in rels if (self.local / r).is_file()]
        if self.remote and present:
            import pyarrow.fs

            fs, path, _ = _open(self.target)
            local_fs = pyarrow.fs.LocalFileSystem()
            for rel in present:
                pyarrow.fs.copy_files(str(self.local / rel), f"{path.rstrip('/')}/{rel.as_posix()}",
                                      source_filesystem=local_fs, destination_filesystem=fs)
        return [self.location(r) for r in present]

    def remove(self, rel: str | Path) -> None:
        """Delete the folder ``rel``: locally and, for a URI, under it."""
        shutil.rmtree(self.local / rel, ignore_errors=True)
        if self.remote:
            fs, path, is_dir = _open(self.location(rel))
            if is_dir:
                fs.delete_dir(path)
