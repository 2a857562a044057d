"""Storage every node sees: a cluster of several nodes needs it (Ray Tune since 2.7).

Storage counts as shared when it is a URI (:func:`hwk4tune.store.records.is_uri`: ``s3://``, ``gs://``, any
``scheme://`` but ``file://``), when the folder lies on a network file system (NFS, CIFS, CephFS, Lustre,
GPFS, BeeGFS, GlusterFS, s3fs/gcsfuse/JuiceFS mounts, read from ``/proc/mounts``), or when the user says
so: ``--storage-shared`` or ``HWK4TUNE_STORAGE_SHARED=1`` (a path mounted at the same place on every node
by other means).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hwk4tune.spec import Problem, SpecError
from hwk4tune.store.records import is_uri, storage_location

SHARED_ENV = "HWK4TUNE_STORAGE_SHARED"
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2",
    "afs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "fuse.mountpoint-s3", "fuse.glusterfs",
    "fuse.cephfs", "fuse.ceph-fuse", "fuse.rclone", "fuse.blobfuse", "fuse.blobfuse2",
})


class StorageError(SpecError):
    """Storage the cluster cannot use (one line: ``--storage: PATH: why, and what to do``)."""

    def __init__(self, storage: str, message: str):
        super().__init__([Problem("--storage", None, storage, message)])


def filesystem_type(path: str | Path) -> str | None:
    """The type of the file system holding ``path`` (``ext4``, ``nfs4``…), from /proc/mounts; None if unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = Path(path).expanduser().absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    target = target.resolve()
    best, fstype = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (str(target) == point or str(target).startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, parts[2]
    return fstype


def storage_is_shared(storage: str, declared: bool = False) -> tuple[bool, str]:
    """(shared, why): a URI, a network file system, or declared by ``--storage-shared`` / the env variable."""
    if is_uri(storage):
        return True, f"{storage.partition('://')[0]}:// URI"
    if declared:
        return True, "declared shared (--storage-shared)"
    if os.environ.get(SHARED_ENV, "").lower() in ("1", "true", "yes"):
        return True, f"declared shared (${SHARED_ENV})"
    fstype = filesystem_type(storage_location(storage))
    if fstype in NETWORK_FILESYSTEMS or (fstype or "").startswith("nfs"):
        return True, f"on a {fstype} file system"
    return False, f"a local folder ({fstype or 'unknown'} file system)"


def alive_node_count() -> int:
    """Alive nodes of the Ray this process is connected to."""
    import ray

    return sum(1 for n in ray.nodes() if n.get("Alive"))


def check_storage(storage: str, *, shared: bool = False, nodes: int | None = None,
                  on_cluster: bool = False, file=None) -> None:
    """Refuse local-only storage on a cluster of several alive nodes (:class:`StorageError`).

    ``nodes``: the alive node count (default: ask the connected Ray). With one node on a cluster
    (``on_cluster``), print a notice instead: nodes that join later could not write there.
    """
    ok, why = storage_is_shared(storage, shared)
    if ok:
        return
    nodes = alive_node_count() if nodes is None else nodes
    if nodes > 1:
        raise StorageError(storage, (
            f"is {why}, but this Ray cluster has {nodes} alive nodes and trials on other nodes could not write "
            "their results and checkpoints there: give a URI (s3://bucket/runs, gs://…) or a folder every node "
            f"mounts at the same path (NFS…) and add --storage-shared (or set {SHARED_ENV}=1)"))
    if on_cluster:
        print(f"notice: storage {storage} is {why}: fine while the cluster has one node; nodes that join later "
              "need shared storage (a URI or --storage-shared)", file=file or sys.stderr, flush=True)

