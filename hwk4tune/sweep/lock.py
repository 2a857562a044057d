"""One driver per experiment folder: ``run`` and ``resume`` hold ``.hwk4tune.lock`` (created atomically with
``O_CREAT|O_EXCL``, holding ``host pid``) from before any trial starts until they exit. A second sweep into
the same folder is refused and touches nothing; a lock left by a dead process on this host is taken over
with a notice. Remote storage (``s3://``) has no atomic create: no lock there (see docs/cluster.md)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from hwk4tune.errors import InputError

LOCK_FILE = ".hwk4tune.lock"


class ExperimentBusy(InputError):
    """Another live driver is running this experiment."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> tuple[str, int] | None:
    try:
        host, pid = path.read_text().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


def acquire(exp_dir: Path, say=print) -> Path:
    """Take the experiment's lock (the folder is made); raise :class:`ExperimentBusy` if a live driver holds it."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    path = exp_dir / LOCK_FILE
    me = f"{socket.gethostname()} {os.getpid()}\n"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None:  # being written this instant, or torn: look again
                holder = _holder(path) or ("?", -1)
            host, pid = holder
            if host == socket.gethostname() and pid > 0 and not _alive(pid) or pid == -1 and host == "?":
                say(f"notice: {path} was left by process {pid}, which is gone: taking it over")
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            raise ExperimentBusy(f"{exp_dir} is in use by another sweep (process {pid} on {host}); wait for it "
                                 f"to end, or give another --name") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        return path
    raise ExperimentBusy(f"{path}: could not take the lock")


def release(path: Path) -> None:
    """Remove the lock if it is still this process's."""
    holder = _holder(path)
    if holder == (socket.gethostname(), os.getpid()):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def experiment_lock(exp_dir: str, say=print):
    """Hold the lock of a local experiment folder for the block; nothing for a URI."""
    from hwk4tune.store.records import is_uri

    if is_uri(exp_dir):
        yield None
        return
    path = acquire(Path(exp_dir), say)
    try:
        yield path
    finally:
        release(path)
