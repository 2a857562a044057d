"""Ray Job submission: a sweep sent to a running cluster.

The sweep file and its space file travel as the job's ``working_dir`` (only those files, in their relative
layout), and the job runs ``hwk4tune run SWEEP --address auto`` on the head node. hwk4tune itself travels too,
as the job's ``py_modules`` (this package's folder, so the cluster needs no hwk4tune of its own, and runs the
version that validated the sweep), unless ``ship=False``: then the cluster's installed ``hwk4tune`` runs it.
hwk4tune's dependencies (Ray, torch…) do not travel: the job checks them first (:data:`CHECK_FILE`).
"""

from __future__ import annotations

import os
import re
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
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the hwk4tune package: what py_modules ships
CHECK_FILE = "_hwk4tune_requires.py"  # in the working_dir of a job that ships hwk4tune: checks its dependencies
EXCLUDES = ["__pycache__", "*.pyc"]  # not uploaded (working_dir and py_modules)

@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    address: str
    name: str
    experiment_dir: str
    entrypoint: str
    shipped: tuple[str, ...] = ()  # the output's lines on what travelled with the job

    @property
    def dashboard_url(self) -> str:
        return f"{self.address.rstrip('/')}/#/jobs/{self.job_id}"

    def lines(self) -> list[str]:
        prefix = env_prefix()
        quoted = shlex.quote(self.address)
        out = [
            f"submitted job {self.job_id}: sweep {self.name}",
            f"  results    {self.experiment_dir}   (on the cluster)",
            *self.shipped,
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


# ------------------------------------------------------------------------------------------- shipping

_CHECK_SCRIPT = """\
\"\"\"Written by `hwk4tune submit`: the job brought hwk4tune {version} (py_modules) but not its dependencies;
check that this Python has them before the sweep starts, and say in one place what is missing.\"\"\"
import importlib.metadata as metadata
import re
import sys

REQUIRES = {requires!r}
REQUIRES_PYTHON = {requires_python!r}


def problems():
    try:
        from packaging.requirements import Requirement
        from packaging.specifiers import SpecifierSet
    except ImportError:  # packaging comes with Ray; without it, only whether each one is there
        Requirement = SpecifierSet = None
    here = "%d.%d.%d" % sys.version_info[:3]
    if SpecifierSet and REQUIRES_PYTHON and not SpecifierSet(REQUIRES_PYTHON).contains(here):
        yield "Python %s: %s is running" % (REQUIRES_PYTHON, here)
    for text in REQUIRES:
        req = Requirement(text) if Requirement else None
        if req is not None and req.marker is not None and not req.marker.evaluate({{"extra": ""}}):
            continue
        name = req.name if req is not None else re.split(r"[^A-Za-z0-9._-]", text, maxsplit=1)[0]
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            yield "%s: not installed" % text
            continue
        if req is not None and req.specifier and not req.specifier.contains(have, prereleases=True):
            yield "%s: %s %s is installed" % (text, name, have)


found = list(problems())
if found:
    print("hwk4tune: this job brought hwk4tune {version} but not its dependencies, and the cluster's Python (%s, "
          "the `python` on the head node's PATH) lacks %d of them:" % (sys.executable, len(found)), file=sys.stderr)
    for line in found:
        print("  " + line, file=sys.stderr)
    wanted = " ".join(repr(line.split(":")[0]) for line in found if not line.startswith("Python "))
    print("install them on every node" + (" (pip install %s)" % wanted if wanted else "")
          + ", or start Ray (`ray start`) from a Python that has them", file=sys.stderr)
    sys.exit(1)
"""


def runtime_requirements() -> list[str]:
    """hwk4tune's own requirements (no extras), as installed here: what a cluster must provide."""
    from importlib import metadata

    try:
        found = metadata.requires("hwk4tune") or []
    except metadata.PackageNotFoundError:  # a source tree on sys.path: nothing to check against
        return []
    return [r for r in found if not re.search(r"\bextra\s*==", r)]


def _version() -> tuple[str, str | None]:
    """(hwk4tune's version, its Requires-Python) as installed here."""
    from importlib import metadata

    try:
        return metadata.version("hwk4tune"), metadata.metadata("hwk4tune").get("Requires-Python")
    except metadata.PackageNotFoundError:
        return "(not installed)", None


def check_script() -> str:
    """The job's first step when it ships hwk4tune: a stdlib-only script (packaging, from Ray, if there)."""
    version, requires_python = _version()
    return _CHECK_SCRIPT.format(version=version, requires=runtime_requirements(), requires_python=requires_python)


def _package_size() -> int:
    return sum(f.stat().st_size for f in PACKAGE_DIR.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def _shipped_lines(files: list[Path], ship: bool) -> tuple[str, ...]:
    listed = " ".join(f.as_posix() for f in files)
    if not ship:
        return (f"  shipped    {listed} (working_dir); not hwk4tune (--no-ship): the cluster's own install runs it",)
    names = [re.split(r"[^A-Za-z0-9._-]", r, maxsplit=1)[0] for r in runtime_requirements()]
    needs = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    return (f"  shipped    {listed} (working_dir), hwk4tune {_version()[0]} from {PACKAGE_DIR} "
            f"(py_modules, {_package_size() / 1e6:.1f} MB)",
            f"  needs      hwk4tune's dependencies in the cluster's Python ({needs or 'see pyproject.toml'}): "
            f"checked before the sweep starts")


def _entrypoint(sweep: Path, name: str, storage: str, storage_shared: bool, run_args: list[str] | None,
                ship: bool) -> str:
    """``hwk4tune run SWEEP --address auto …``; with ``ship``, the shipped package's CLI after the check."""
    head = ["python", "-m", "hwk4tune.cli"] if ship else ["hwk4tune"]
    cmd = [*head, "run", sweep.as_posix(), "--address", "auto", "--name", name, "--storage", storage]
    if storage_shared:
        cmd.append("--storage-shared")
    cmd += list(run_args or [])
    entrypoint = " ".join(shlex.quote(c) for c in cmd)
    if storage.startswith("~"):  # let the cluster's shell expand it
        entrypoint = entrypoint.replace(shlex.quote(storage), storage)
    return f"python {CHECK_FILE} && {entrypoint}" if ship else entrypoint


def _stage(staging: Path, root: Path, files: list[Path], ship: bool) -> dict[str, Any]:
    """Copy the files into ``staging`` (with the check script when shipping); the job's runtime_env."""
    for rel in files:
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, staging / rel)
    runtime_env: dict[str, Any] = {"working_dir": str(staging), "excludes": list(EXCLUDES)}
    if ship:
        (staging / CHECK_FILE).write_text(check_script())
        runtime_env["py_modules"] = [str(PACKAGE_DIR)]
    return runtime_env


# ------------------------------------------------------------------------------------------- submit


def submit(spec: SweepSpec, *, address: str, storage: str | None = None, name: str | None = None,
           storage_shared: bool = False, run_args: list[str] | None = None,
           env_vars: dict[str, str] | None = None, ship: bool = True) -> SubmittedJob:
    """Submit the sweep as a Ray Job to the cluster whose dashboard is at ``address`` (``http://HEAD:8265``).

    ``spec`` is the locally validated sweep (overrides from ``--set`` go in ``run_args``, which are
    appended to the job's ``hwk4tune run`` command). With ``ship`` (the default) this hwk4tune package goes
    with the job (``py_modules``), so the cluster needs only its dependencies; without, the cluster's own
    ``hwk4tune`` command runs the job. Returns the job; it runs on the head node.
    """
    if "://" not in address:
        address = f"http://{address}"
    storage = _job_storage(storage, spec)
    name = name or spec.name or default_name(spec.source)
    root, files = job_files(spec)
    entrypoint = _entrypoint(files[0], name, storage, storage_shared, run_args, ship)
    job_id = "hwk4tune-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)

    client = _client(address)
    with tempfile.TemporaryDirectory(prefix="hwk4tune-job-") as staging:
        runtime_env = _stage(Path(staging), root, files, ship)
        if env_vars:
            runtime_env["env_vars"] = dict(env_vars)
        try:
            job_id = client.submit_job(
                entrypoint=entrypoint, submission_id=job_id, runtime_env=runtime_env,
                metadata={"job_name": job_name(name), "hwk4tune_sweep": name, "storage": storage,
                          "sweep_file": str(spec.source or ""), "hwk4tune_shipped": "yes" if ship else "no"},
            )
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(_explain(exc, address)) from None
    exp_dir = f"{storage.rstrip('/')}/{name}"
    return SubmittedJob(job_id=job_id, address=address, name=name, experiment_dir=exp_dir, entrypoint=entrypoint,
                        shipped=_shipped_lines(files, ship))


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
