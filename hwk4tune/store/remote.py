"""Folders in remote storage (``s3://…``, ``gs://…``), through a local mirror: the one place for remote copies.

- Reading (``table``, ``best``, ``report``): :func:`local_copy` copies the remote folder into its mirror first,
  then that is read.
- Reading one file (``train s3://…/best.yaml``, ``evaluate s3://…/model.pt``): :func:`local_copy` with
  ``file_ok`` copies it to its place in the mirror.
- Writing (``compare --out``, ``train --out``, ``record --out``, the ``-o`` of ``table``, ``best``, ``report`` at a
  URI): a :class:`Workspace` assembles the files in the mirror and pushes them to the URI (sweeps are written
  into the URI by Tune itself).

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
    """``(file system, path, pyarrow FileType)`` of a URI; one-line :class:`InputError` if it cannot be reached."""
    import pyarrow.fs

    try:
        fs, path = pyarrow.fs.FileSystem.from_uri(uri.rstrip("/"))
        kind = fs.get_file_info(path).type
    except (OSError, ValueError) as exc:
        raise InputError(f"{uri}: cannot be read ({_first_line(exc)})") from None
    return fs, path, kind


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def mirror_of(uri: str) -> Path:
    """Where the remote folder (or file) ``uri`` is mirrored (nothing is copied)."""
    scheme, _, rest = uri.partition("://")
    return mirror_root() / scheme.lower() / rest.split("?", 1)[0].strip("/")  # s3://b/p?endpoint_override=…


def local_copy(uri: str, *, missing_ok: bool = False, file_ok: bool = False) -> Path:
    """The local mirror of the remote folder ``uri`` (copied now); with ``file_ok``, ``uri`` may also name one
    file, copied to its place in the mirror. One-line :class:`InputError` if absent (with ``missing_ok``, an
    absent folder leaves the mirror as it is, and an absent file's stale copy in the mirror is removed)."""
    import pyarrow.fs

    fs, path, kind = _open(uri)
    target = mirror_of(uri)
    local_fs = pyarrow.fs.LocalFileSystem()
    if file_ok and kind == pyarrow.fs.FileType.File:
        target.parent.mkdir(parents=True, exist_ok=True)
        pyarrow.fs.copy_files(path, str(target), source_filesystem=fs, destination_filesystem=local_fs)
        return target
    if kind != pyarrow.fs.FileType.Directory:
        if not missing_ok:
            raise InputError(f"{uri}: no such {'file or folder' if file_ok else 'folder'}")
        if file_ok:  # nothing there: nor in the mirror
            if target.is_file():
                target.unlink()
            return target
    target.mkdir(parents=True, exist_ok=True)
    if kind == pyarrow.fs.FileType.Directory:
        pyarrow.fs.copy_files(path, str(target), source_filesystem=fs, destination_filesystem=local_fs)
    return target


def readable(path: str | Path, *, file_ok: bool = False) -> Path:
    """A folder to read (with ``file_ok``, a folder or a file): a URI's local mirror, else the path itself
    (``file://PATH`` is the local PATH)."""
    return local_copy(str(path), file_ok=file_ok) if is_uri(path) else Path(storage_location(str(path)))


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

    @classmethod
    def of_file(cls, path: str | Path) -> tuple[Workspace, str]:
        """The workspace of the folder that holds the file ``path`` (a path or a URI), and the file's name."""
        target = storage_location(str(path))
        if is_uri(target):
            folder, _, name = target.rstrip("/").rpartition("/")
            return cls.of(folder), name
        return cls.of(Path(target).parent), Path(target).name

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

    def create(self) -> Path:
        """The local folder, made now; for a URI, the remote folder too, so that storage which cannot be written
        (no such bucket, no permission) is refused in one line before any work, not after it."""
        self.local.mkdir(parents=True, exist_ok=True)
        if self.remote:
            fs, path, _ = _open(self.target)
            try:
                fs.create_dir(path)
            except OSError as exc:
                raise InputError(f"{self.target}: cannot be written ({_first_line(exc)})") from None
        return self.local

    def push(self, *rels: str | Path) -> list[str]:
        """Copy these local files to the URI (files that do not exist locally are skipped); their locations.
        A file that cannot be copied is one :class:`InputError` line naming it and its copy in the mirror."""
        present = [Path(r) for r in rels if (self.local / r).is_file()]
        if self.remote and present:
            import pyarrow.fs

            fs, path, _ = _open(self.target)
            local_fs = pyarrow.fs.LocalFileSystem()
            for rel in present:
                try:
                    pyarrow.fs.copy_files(str(self.local / rel), f"{path.rstrip('/')}/{rel.as_posix()}",
                                          source_filesystem=local_fs, destination_filesystem=fs)
                except OSError as exc:
                    raise InputError(f"{self.location(rel)}: cannot be written ({_first_line(exc)}); the file "
                                     f"is in {self.local / rel}") from None
        return [self.location(r) for r in present]

    def remove(self, rel: str | Path) -> None:
        """Delete the folder ``rel``: locally and, for a URI, under it."""
        shutil.rmtree(self.local / rel, ignore_errors=True)
        if self.remote:
            import pyarrow.fs

            fs, path, kind = _open(self.location(rel))
            if kind == pyarrow.fs.FileType.Directory:
                fs.delete_dir(path)
