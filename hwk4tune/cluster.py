"""Clusters: Ray Job submission, storage that every node sees, a dashboard that is safe by default.

- :func:`submit` sends a sweep to a running cluster as a Ray Job. The sweep file and its space file travel
  as the job's ``working_dir`` (only those files, in their relative layout), and the job runs
  ``hwk4tune run SWEEP --address auto`` on the head node.
- :func:`check_storage` refuses, before any trial starts, a storage folder that only one machine can see on
  a cluster of several nodes (Ray Tune needs storage shared by all nodes since Ray 2.7). Storage counts as
  shared when it is a URI (``s3://``, ``gs://``, any ``scheme://`` but ``file://``), when the folder lies on
  a network file system (NFS, CIFS, CephFS, Lustre, GPFS, BeeGFS, GlusterFS, s3fs/gcsfuse/JuiceFS mounts,
  read from ``/proc/mounts``), or when the user says so: ``--storage-shared`` or
  ``HWK4TUNE_STORAGE_SHARED=1`` (a path mounted at the same place on every node by other means).
- Dashboard helpers: the URL and where the token comes from; a loud warning for a dashboard bound to a
  non-loopback address while token authentication is disabled (CVE-2023-48022, "ShadowRay").
- :func:`trainable_name`: the name Tune gives the sweep's trial actors (``hwk4tune.<sweep>``), which the
  dashboard's Actors and Logs views show, so several sweeps on one cluster are told apart.

No Ray import at module level.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hwk4tune.errors import InputError
from hwk4tune.spec import Problem, SpecError, SweepSpec

__all__ = [
    "StorageError", "ClusterError", "SubmittedJob", "SHARED_ENV", "is_uri", "is_loopback", "auth_mode",
    "token_location", "read_token", "auth_headers", "token_hint", "connect_hint", "dashboard_warning", "dashboard_lines",
    "filesystem_type", "storage_is_shared", "check_storage", "alive_node_count", "trainable_name", "job_name",
    "job_config",
    "name_trainable", "job_files", "submit", "wait_for_job",
]

SHARED_ENV = "HWK4TUNE_STORAGE_SHARED"
DEFAULT_JOB_STORAGE = "~/hwk4tune-runs"
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2",
    "afs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "fuse.mountpoint-s3", "fuse.glusterfs",
    "fuse.cephfs", "fuse.ceph-fuse", "fuse.rclone", "fuse.blobfuse", "fuse.blobfuse2",
})


class StorageError(SpecError):
    """Storage the cluster cannot use (one line: ``--storage: PATH: why, and what to do``)."""

    def __init__(self, storage: str, message: str):
        super().__init__([Problem("--storage", None, storage, message)])


class ClusterError(InputError):
    """A cluster could not be reached or refused a request; ``str()`` is one line with the fix."""


# -------------------------------------------------------------------------------------- addresses


def is_uri(path: str) -> bool:
    """``s3://…``, ``gs://…``: a URI that Ray's storage (pyarrow) reads from every node; ``file://`` is not."""
    scheme, sep, _ = str(path).partition("://")
    return bool(sep) and scheme.lower() != "file" and scheme.isidentifier()


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``; anything else (0.0.0.0 above all) is reachable from outside."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -------------------------------------------------------------------------------------- token auth


def auth_mode() -> str:
    """``token`` or ``disabled``: what a cluster started from this environment uses (Ray 2.60's default is
    ``token`` for ``ray.init()``; ``ray start`` uses it when a token exists)."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None:
        return mode.lower()
    return "token"


def token_location() -> str:
    """Where Ray reads the token from, in its order: ``$RAY_AUTH_TOKEN``, ``$RAY_AUTH_TOKEN_PATH``,
    ``~/.ray/auth_token``."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return os.environ["RAY_AUTH_TOKEN_PATH"]
    return str(Path("~/.ray/auth_token"))


def read_token() -> str | None:
    """The token Ray would send, or None."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token").expanduser()
    try:
        token = path.read_text().strip()
    except OSError:
        return None
    return token or None


def auth_headers() -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` when a token is found (Ray's clients only send it when
    ``RAY_AUTH_MODE=token`` is set in their own environment; we always send it)."""
    token = read_token()
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_hint() -> str:
    return (f"token: `ray get-auth-token` on the head node (stored in {token_location()}); "
            "paste it into the page once, it is kept as a cookie")


def connect_hint(address: str, exc: BaseException) -> str:
    """One line for a failed ``ray.init(address=…)``, naming the usual cause: token auth off in this shell."""
    chain, seen = [], exc
    while seen is not None:
        chain.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    text = " ".join(" ".join(chain).split())
    if ("token" in text.lower() or "authentication" in text.lower()) and auth_mode_set() != "token":
        return (f"cannot connect to Ray at {address}: the cluster uses token authentication; "
                f"export RAY_AUTH_MODE=token (the token is read from {token_location()})")
    return f"cannot connect to Ray at {address} ({text[:200]}); is it up? `ray status --address {address}`"


def auth_mode_set() -> str | None:
    """RAY_AUTH_MODE as set in this environment (None when unset)."""
    value = os.environ.get("RAY_AUTH_MODE")
    return value.lower() if value is not None else None


def _env_prefix() -> str:
    """What the printed `ray job` commands need in front so that Ray's own CLI sends the token."""
    if read_token() and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return "RAY_AUTH_MODE=token "
    return ""


# -------------------------------------------------------------------------------------- dashboard


def dashboard_warning(host: str, mode: str | None = None) -> str | None:
    """The warning to print before a dashboard binds to ``host``; None for loopback.

    Non-loopback with authentication disabled: a loud, multi-line WARNING (anyone who reaches the port can
    run code on the cluster). Non-loopback with token authentication: a one-line notice.
    """
    if is_loopback(host):
        return None
    mode = mode or auth_mode()
    if mode == "disabled":
        bar = "!" * 100
        return "\n".join([
            bar,
            f"WARNING: the Ray dashboard will listen on {host} with authentication DISABLED (RAY_AUTH_MODE=disabled).",
            "Anyone who can reach this port can submit jobs and run any code on this machine and every node of",
            "the cluster (CVE-2023-48022, 'ShadowRay', exploited in the wild). Keep the default --dashboard-host",
            "127.0.0.1 and use an SSH tunnel (`ssh -L 8265:127.0.0.1:8265 HEAD`), or unset RAY_AUTH_MODE to keep",
            "token authentication on.",
            bar,
        ])
    return (f"notice: the Ray dashboard listens on {host}, reachable from the network; token authentication "
            "protects it, but the token travels in clear over http: prefer 127.0.0.1 and an SSH tunnel")


def dashboard_lines(url: str) -> list[str]:
    """What to print once a dashboard is up: the URL and how to get the token."""
    url = url if "://" in url else f"http://{url}"
    lines = [f"Ray dashboard: {url}"]
    if auth_mode() != "disabled":
        lines.append(f"  {token_hint()}")
    return lines


def announce_dashboard(url: str, file=None) -> None:
    for line in dashboard_lines(url):
        print(f"hwk4tune: {line}" if not line.startswith(" ") else f"          {line.strip()}",
              file=file or sys.stderr, flush=True)


def warn_dashboard_host(host: str, file=None) -> None:
    text = dashboard_warning(host)
    if text:
        print(text, file=file or sys.stderr, flush=True)


# -------------------------------------------------------------------------------------- storage


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
    fstype = filesystem_type(storage.removeprefix("file://"))
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


# -------------------------------------------------------------------------------------- names


def trainable_name(sweep_name: str) -> str:
    """``hwk4tune.<sweep>``: the trial actors' name in the dashboard's Actors view and in log prefixes."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sweep_name)
    return f"hwk4tune.{safe}"


def job_name(sweep_name: str) -> str:
    """``hwk4tune <sweep>``: the Name column of the dashboard's Jobs view (metadata key ``job_name``)."""
    return f"hwk4tune {sweep_name}"


def job_config(sweep_name: str | None):
    """A ``ray.job_config.JobConfig`` naming the driver's job after the sweep (None without a name)."""
    if not sweep_name:
        return None
    from ray.job_config import JobConfig

    return JobConfig(metadata={"job_name": job_name(sweep_name), "hwk4tune_sweep": sweep_name})


def name_trainable(fn: Callable, sweep_name: str) -> Callable:
    """Give a function trainable (from ``tune.with_parameters``) the name :func:`trainable_name`. Tune
    shows it as the actors' repr and uses it in ``(NAME pid=…)`` log prefixes; resuming needs the same name."""
    fn.__name__ = fn.__qualname__ = trainable_name(sweep_name)
    return fn


# -------------------------------------------------------------------------------------- job submission


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    address: str
    name: str
    experiment_dir: str
    entrypoint: str

    @property
    def dashboard_url(self) -> str:
        return f"{self.address.rstrip('/')}/#/jobs/{self.job_id}"

    def lines(self) -> list[str]:
        prefix = _env_prefix()
        quoted = shlex.quote(self.address)
        out = [
            f"submitted job {self.job_id}: sweep {self.name}",
            f"  results    {self.experiment_dir}   (on the cluster)",
            f"  dashboard  {self.dashboard_url}",
            f"  logs       {prefix}ray job logs --follow {self.job_id} --address {quoted}",
            f"  status     {prefix}ray job status {self.job_id} --address {quoted}",
            f"  stop       {prefix}ray job stop {self.job_id} --address {quoted}",
        ]
        if read_token():
            out.append(f"  token      sent from {token_location()}")
        return out


def job_files(spec: SweepSpec) -> tuple[Path, list[Path]]:
    """(root, files relative to root): the sweep file and its space file, in their relative layout."""
    files = [Path(spec.source).resolve()] if spec.source else []
    if spec.space.source and Path(spec.space.source).resolve() not in files:
        files.append(Path(spec.space.source).resolve())
    if not files:
        raise ClusterError("the sweep has no file to send (load it with load_sweep)")
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    return root, [f.relative_to(root) for f in files]


def _job_storage(storage: str | None, spec: SweepSpec) -> str:
    """Storage as the job on the cluster must see it: a URI, or an absolute path there."""
    if storage is None:
        raw = spec.storage
        return raw if raw and is_uri(raw) else DEFAULT_JOB_STORAGE
    if is_uri(storage) or storage.startswith("~") or Path(storage).is_absolute():
        return storage
    raise StorageError(storage, "a relative folder means nothing on the cluster: give an absolute path there "
                                "(shared by all nodes) or a URI such as s3://bucket/runs")


def _default_name(spec: SweepSpec) -> str:
    stem = spec.source.stem if spec.source else "sweep"
    return f"{stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address, headers=auth_headers())
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError…
        raise ClusterError(_explain(exc, address)) from None


def _explain(exc: Exception, address: str) -> str:
    text = " ".join(str(exc).split())
    if "401" in text or "Authentication required" in text or "token cannot be" in text or "file cannot be opened" in text:
        return (f"{address} asks for a token and none was found: copy it from the head node "
                f"(`ray get-auth-token`) into ~/.ray/auth_token or $RAY_AUTH_TOKEN")
    if "403" in text or "Authentication failed" in text:
        return f"{address} refused the token from {token_location()}: it is not this cluster's token"
    return f"cannot reach the Ray dashboard at {address}: {text[:300]}"


def submit(spec: SweepSpec, *, address: str, storage: str | None = None, name: str | None = None,
           storage_shared: bool = False, run_args: list[str] | None = None,
           env_vars: dict[str, str] | None = None) -> SubmittedJob:
    """Submit the sweep as a Ray Job to the cluster whose dashboard is at ``address`` (``http://HEAD:8265``).

    ``spec`` is the locally validated sweep (overrides from ``--set`` go in ``run_args``, which are
    appended to the job's ``hwk4tune run`` command). Returns the job; it runs on the head node.
    """
    if "://" not in address:
        address = f"http://{address}"
    storage = _job_storage(storage, spec)
    name = name or spec.name or _default_name(spec)
    root, files = job_files(spec)
    sweep_rel = files[0]
    cmd = ["hwk4tune", "run", sweep_rel.as_posix(), "--address", "auto", "--name", name, "--storage", storage]
    if storage_shared:
        cmd.append("--storage-shared")
    cmd += list(run_args or [])
    entrypoint = " ".join(shlex.quote(c) for c in cmd)
    if storage.startswith("~"):  # let the cluster's shell expand it
        entrypoint = entrypoint.replace(shlex.quote(storage), storage)
    job_id = "hwk4tune-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)

    client = _client(address)
    with tempfile.TemporaryDirectory(prefix="hwk4tune-job-") as staging:
        for rel in files:
            (Path(staging) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, Path(staging) / rel)
        runtime_env: dict[str, Any] = {"working_dir": staging}
        if env_vars:
            runtime_env["env_vars"] = dict(env_vars)
        try:
            job_id = client.submit_job(
                entrypoint=entrypoint, submission_id=job_id, runtime_env=runtime_env,
                metadata={"job_name": job_name(name), "hwk4tune_sweep": name, "storage": storage,
                          "sweep_file": str(spec.source or "")},
            )
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(_explain(exc, address)) from None
    exp_dir = f"{storage.rstrip('/')}/{name}"
    return SubmittedJob(job_id=job_id, address=address, name=name, experiment_dir=exp_dir, entrypoint=entrypoint)


def wait_for_job(job: SubmittedJob, *, follow: bool = True, poll_s: float = 2.0, file=None) -> str:
    """Stream the job's logs (``follow``) until it ends; return its final status (``SUCCEEDED``…)."""
    import asyncio

    from ray.job_submission import JobStatus

    client = _client(job.address)
    out = file or sys.stdout
    if follow:
        async def _tail() -> None:
            async for chunk in client.tail_job_logs(job.job_id):
                out.write(chunk)
                out.flush()

        try:
            asyncio.run(_tail())
        except Exception as exc:  # noqa: BLE001 - a dropped log stream is not the job's failure
            print(f"hwk4tune: log stream ended ({type(exc).__name__}); waiting for the job", file=sys.stderr)
    while True:
        status = client.get_job_status(job.job_id)
        if JobStatus(status).is_terminal():
            return str(status.value if hasattr(status, "value") else status)
        time.sleep(poll_s)
