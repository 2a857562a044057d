"""Ray Job submission: a sweep sent to a running cluster.

The sweep file and its space file travel as the job's ``working_dir`` (only those files, in their relative
layout), and the job runs ``hwk4tune run SWEEP --address auto`` on the head node.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwk4tune.cluster.auth import ClusterError, auth_headers, env_prefix, read_token, token_location
from hwk4tune.cluster.naming import job_name
from hwk4tune.cluster.storage import StorageError
from hwk4tune.spec import SweepSpec
from hwk4tune.store.records import default_name, is_uri

DEFAULT_JOB_STORAGE = "~/hwk4tune-runs"

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
        prefix = env_prefix()
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
    name = name or spec.name or default_name(spec.source)
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
