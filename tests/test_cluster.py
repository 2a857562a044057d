"""Clusters: shared-storage rules, job submission, and a real two-node Ray on loopback that loses a node.

The slow tests start their own Ray nodes (`ray start --block`, own ports and temp dir: see
``local_cluster``) and drive ``hwk4tune`` in subprocesses; the session-wide ``ray_local`` is never touched.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from local_cluster import LocalCluster, results, venv_without_hwk4tune, write_sweep

from hwk4tune import cluster
from hwk4tune.spec import load_sweep

HWK4TUNE = str(Path(sys.executable).parent / "hwk4tune")
ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------- rules (fast)


@pytest.mark.parametrize("storage, shared", [
    ("s3://bucket/runs", True), ("gs://b/r", True), ("abfs://c@a.dfs.core.windows.net/r", True),
    ("file:///tmp/runs", False), ("/tmp/runs", False), ("runs", False),
])
def test_uri_storage_is_shared_local_is_not(storage, shared, monkeypatch):
    monkeypatch.delenv(cluster.SHARED_ENV, raising=False)
    assert cluster.storage_is_shared(storage)[0] is shared


def test_local_storage_declared_shared(monkeypatch, tmp_path):
    monkeypatch.delenv(cluster.SHARED_ENV, raising=False)
    assert cluster.storage_is_shared(str(tmp_path), declared=True) == (True, "declared shared (--storage-shared)")
    monkeypatch.setenv(cluster.SHARED_ENV, "1")
    assert cluster.storage_is_shared(str(tmp_path))[0]


def test_filesystem_type_reads_mounts(tmp_path):
    assert cluster.filesystem_type(tmp_path / "not" / "yet") == cluster.filesystem_type(tmp_path)
    assert cluster.filesystem_type("/") not in (None, "")


def test_check_storage_refuses_local_folder_on_several_nodes(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(cluster.SHARED_ENV, raising=False)
    with pytest.raises(cluster.StorageError) as err:
        cluster.check_storage(str(tmp_path), nodes=3)
    (line,) = str(err.value).splitlines()
    assert line.startswith(f"--storage: {tmp_path}: is a local folder") and "3 alive nodes" in line
    assert "--storage-shared" in line and "s3://" in line
    cluster.check_storage(str(tmp_path), nodes=3, shared=True)  # declared: fine
    cluster.check_storage("gs://bucket/runs", nodes=3)
    cluster.check_storage(str(tmp_path), nodes=1)  # one machine: fine, silently
    cluster.check_storage(str(tmp_path), nodes=1, on_cluster=True)
    assert "nodes that join later" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_dashboard_needs_no_warning(host):
    assert cluster.dashboard_warning(host, "disabled") is None


def test_exposed_dashboard_warning():
    loud = cluster.dashboard_warning("0.0.0.0", "disabled")
    assert "WARNING" in loud and "CVE-2023-48022" in loud and "127.0.0.1" in loud
    assert cluster.dashboard_warning("10.0.0.5", "token").startswith("notice:")


def test_token_is_read_from_env_path_or_home(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    (tmp_path / "tok").write_text("abc123\n")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "tok"))
    assert cluster.read_token() == "abc123"
    assert cluster.auth_headers() == {"Authorization": "Bearer abc123"}
    monkeypatch.setenv("RAY_AUTH_TOKEN", "fromenv")
    assert cluster.read_token() == "fromenv" and cluster.token_location() == "$RAY_AUTH_TOKEN"


@pytest.mark.parametrize("version, mode", [((2, 55), "disabled"), ((2, 58), "disabled"), ((2, 59), "token"),
                                           ((2, 60), "token")])
def test_auth_mode_follows_the_installed_rays_default(monkeypatch, version, mode):
    from hwk4tune.cluster import ray_versions

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setattr(ray_versions, "ray_version", lambda: version)
    assert cluster.auth_mode() == mode
    lines = cluster.dashboard_lines("127.0.0.1:8265")
    assert len(lines) == 2 and (("token:" in lines[1]) == (mode == "token"))
    if mode == "disabled":  # the one line that says what this Ray lacks
        assert lines[1].strip().startswith(f"Ray {version[0]}.{version[1]} starts without token authentication")
        assert f"DISABLED (Ray {version[0]}.{version[1]}'s default)" in cluster.dashboard_warning("0.0.0.0")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    assert cluster.auth_mode() == "token"


def test_installed_ray_is_in_the_supported_range():
    from importlib.metadata import version

    from hwk4tune.cluster.ray_versions import supported_ray

    assert supported_ray(version("ray"))
    assert supported_ray("2.55.0") and supported_ray("2.60.1") and not supported_ray("2.54.1")
    assert not supported_ray("2.61.0")


def test_a_version_mismatch_is_one_line():
    mismatch = RuntimeError("Version mismatch: The cluster was started with:\n    Ray: 2.55.1\n    Python: 3.11.7\n"
                            "This process on Ray Client was started with:\n    Ray: 2.60.0\n    Python: 3.11.7\n")
    line = cluster.connect_hint("ray://head:10001", mismatch)
    assert line == ("cannot connect to Ray at ray://head:10001: the cluster runs Ray 2.55.1, this environment Ray "
                    "2.60.0, and a driver's Ray must match the cluster's: pip install 'ray[tune,default]==2.55.1' "
                    "here (Ray 2.55.1 is supported)")


def test_job_sends_the_sweep_and_its_space_in_their_layout():
    spec = load_sweep(ROOT / "launch" / "random_fifo.yaml")
    root, files = cluster.job_files(spec)
    assert root == ROOT
    assert [f.as_posix() for f in files] == ["launch/random_fifo.yaml", "search_spaces/cnn_digits.yaml"]


def test_trainable_names_are_readable_and_safe():
    assert cluster.trainable_name("random_fifo-20260101-120000") == "hwk4tune.random_fifo-20260101-120000"
    assert cluster.trainable_name("a b/c") == "hwk4tune.a_b_c"


def test_submit_refuses_relative_storage_before_contacting_anything():
    r = subprocess.run([HWK4TUNE, "submit", str(ROOT / "launch" / "random_fifo.yaml"), "--address",
                        "http://127.0.0.1:9", "--storage", "runs"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "--storage: runs: a relative folder means nothing on the cluster: give an absolute path there "
        "(shared by all nodes) or a URI such as s3://bucket/runs"]


# ----------------------------------------------------------------------------------------- real clusters


def _run(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([HWK4TUNE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _node_of_pid(c: LocalCluster) -> dict[int, str]:
    """pid of every trial actor the cluster ever had (dead ones included) -> its node id."""
    return {a["pid"]: a["node_id"] for a in c.actors() if a.get("repr_name", "").startswith("hwk4tune.")}


@pytest.mark.oldest_ray
@pytest.mark.slow
def test_two_nodes_share_a_sweep_and_survive_losing_one(tmp_path):
    t0 = time.monotonic()
    with LocalCluster(tmp_path / "cluster") as c:
        c.start_head(num_cpus=1)
        worker = c.add_node(num_cpus=1)
        head_id, worker_id = _node_ids(c)
        storage = tmp_path / "shared"  # both "machines" see this folder: declared shared

        # local-only storage on two nodes: refused before any trial starts
        sweep = write_sweep(tmp_path / "specs", max_epochs=2, subset=300, trials=4)
        r = _run(["run", str(sweep), "--address", c.address, "--storage", str(storage), "--name", "refused"],
                 c.env)
        assert r.returncode == 2, r.stderr[-2000:]
        assert re.search(r"^--storage: .*2 alive nodes", r.stderr, re.M), r.stderr[-2000:]
        assert not (storage / "refused").exists() or not list((storage / "refused").glob("trial_*"))

        # 1. the sweep spreads over both nodes
        r = _run(["run", str(sweep), "--address", c.address, "--storage", str(storage), "--storage-shared",
                  "--name", "both"], c.env)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
        rows = results(storage / "both")
        assert len(rows) == 4 and all(t and t[-1]["epoch"] == 2 for t in rows.values())
        nodes = _node_of_pid(c)
        ran_on = {nodes[t[-1]["pid"]] for t in rows.values()}
        assert ran_on == {head_id, worker_id}

        # 2. the worker node dies mid-sweep: its trial is retried on the head, every trial finishes (two trials,
        # one per node: the lost one is retried once the head's is done)
        sweep = write_sweep(tmp_path / "specs2", max_epochs=8, subset=None, trials=2)
        log = open(tmp_path / "fault.log", "w")  # noqa: SIM115
        proc = subprocess.Popen([HWK4TUNE, "run", str(sweep), "--address", c.address, "--storage", str(storage),
                                 "--storage-shared", "--name", "fault"], env=c.env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            _wait_for_work_on(c, worker_id, "fault")
            c.kill_node(worker)
            killed_at = time.monotonic()
            assert proc.wait(timeout=900) == 0, (tmp_path / "fault.log").read_text()[-4000:]
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
        rows = results(storage / "fault")
        assert len(rows) == 2
        assert all(t and t[-1]["epoch"] == 8 for t in rows.values()), {k: len(v) for k, v in rows.items()}
        nodes = _node_of_pid(c)
        assert all(nodes[t[-1]["pid"]] == head_id for t in rows.values() if nodes.get(t[0]["pid"]) == worker_id)
        retried = [k for k, t in rows.items()
                   if {nodes.get(r["pid"]) for r in t} == {head_id, worker_id}]
        assert retried, ("no trial ran on the lost node and then on the head",
                         {k: [(r["epoch"], r["pid"], (nodes.get(r["pid"]) or "?")[:6]) for r in t] for k, t in rows.items()},
                         head_id[:6], worker_id[:6], (tmp_path / "fault.log").read_text()[-3000:])
        assert "2 trials planned: 2 finished, 0 errors" in (tmp_path / "fault.log").read_text()
        for key in retried:  # resumed from its checkpoint on the head, not started over
            assert min(r["epoch"] for r in rows[key] if nodes.get(r["pid"]) == head_id) > 1, rows[key]
        print(f"\nmulti-node test: {time.monotonic() - t0:.1f} s wall (recovery after the kill: "
              f"{time.monotonic() - killed_at:.1f} s); retried trials: {retried}")


def _node_ids(c: LocalCluster) -> tuple[str, str]:
    nodes = c.alive_nodes()
    head = next(n["node_id"] for n in nodes if n.get("is_head_node"))
    (worker,) = [n["node_id"] for n in nodes if n["node_id"] != head]
    return head, worker


def _wait_for_work_on(c: LocalCluster, node_id: str, name: str, timeout: float = 300) -> None:
    """Until a trial on ``node_id`` has reported an epoch: its actor's pid appears in a result row that the
    driver writes live into the cluster's temp dir (storage gets them at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {a["pid"] for a in c.actors() if a["node_id"] == node_id and a["state"] == "ALIVE"
                and a.get("repr_name", "").startswith("hwk4tune.")}
        for result in Path(c.temp_dir).glob(f"session_*/artifacts/*/{name}/driver_artifacts/trial_*/result.json"):
            for line in result.read_text().splitlines():
                if line.strip() and json.loads(line).get("pid") in pids:
                    return
        time.sleep(0.3)
    raise TimeoutError("no trial reported from the worker node")


@pytest.mark.oldest_ray
@pytest.mark.slow
def test_submit_runs_the_sweep_as_a_job(tmp_path):
    with LocalCluster(tmp_path / "cluster") as c:
        c.start_head(num_cpus=2)
        sweep = write_sweep(tmp_path / "specs", max_epochs=2, subset=300, trials=2)
        storage = tmp_path / "results"

        # no token: refused in one line
        env = {k: v for k, v in c.env.items() if not k.startswith("RAY_AUTH")} | {"HOME": str(tmp_path)}
        r = _run(["submit", str(sweep), "--address", c.dashboard_url, "--storage", str(storage)], env, 120)
        assert r.returncode == 2 and "asks for a token" in r.stderr, r.stderr[-2000:]

        r = _run(["submit", str(sweep), "--address", c.dashboard_url, "--storage", str(storage),
                  "--name", "submitted", "--wait"], c.env, 900)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
        assert "submitted job hwk4tune-submitted" in r.stdout
        assert f"ray job logs --follow hwk4tune-submitted --address {c.dashboard_url}" in r.stdout
        assert f"{c.dashboard_url}/#/jobs/hwk4tune-submitted" in r.stdout
        assert r.stdout.rstrip().endswith("job hwk4tune-submitted: SUCCEEDED")

        status, job = c.api("/api/jobs/hwk4tune-submitted")
        assert status == 200 and job["status"] == "SUCCEEDED"
        assert job["metadata"]["job_name"] == "hwk4tune submitted"
        rows = results(storage / "submitted")
        assert len(rows) == 2 and all(t and t[-1]["epoch"] == 2 for t in rows.values())
        assert (storage / "submitted" / "hwk4tune.json").exists()


def test_shipped_jobs_check_the_dependencies_first(tmp_path, monkeypatch):
    from hwk4tune.cluster import jobs

    script = tmp_path / jobs.CHECK_FILE
    script.write_text(jobs.check_script())
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr  # this venv has them all

    monkeypatch.setattr(jobs, "runtime_requirements", lambda: ["torch>=2.4", "no-such-package-h4t>=1", "ray<1",
                                                               "pytest>=8; extra == 'dev'"])
    script.write_text(jobs.check_script())
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert f"the cluster's Python ({sys.executable}," in lines[0] and "lacks 2 of them" in lines[0]
    assert lines[1:3] == ["  no-such-package-h4t>=1: not installed", f"  ray<1: ray {metadata.version('ray')} is installed"]
    assert "pip install 'no-such-package-h4t>=1' 'ray<1'" in lines[3]


@pytest.mark.slow
def test_submit_ships_hwk4tune_to_a_cluster_without_it(tmp_path):
    ray = venv_without_hwk4tune(tmp_path / "venv")
    r = subprocess.run([str(ray.parent / "python"), "-c", "import ray, torch; import hwk4tune"], cwd=tmp_path,
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)
    assert "No module named 'hwk4tune'" in r.stderr, r.stderr  # Ray and torch are there, hwk4tune not
    with LocalCluster(tmp_path / "cluster", ray=str(ray), env={"PYTHONPATH": ""}) as c:
        c.start_head(num_cpus=2)
        sweep = write_sweep(tmp_path / "specs", max_epochs=1, subset=200, trials=2)
        storage = tmp_path / "results"
        args = ["submit", str(sweep), "--address", c.dashboard_url, "--storage", str(storage)]

        r = _run([*args, "--name", "unshipped", "--no-ship"], c.env, 120)  # fails on its own meanwhile
        assert r.returncode == 0 and "not hwk4tune (--no-ship)" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]

        r = _run([*args, "--name", "shipped", "--wait"], c.env, 600)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
        assert (f"  shipped    sweeps/tiny.yaml spaces/tiny.yaml (working_dir), hwk4tune {metadata.version('hwk4tune')}"
                f" from {ROOT / 'hwk4tune'} (py_modules, ") in r.stdout, r.stdout[:2000]
        assert "  needs      hwk4tune's dependencies in the cluster's Python (ray, torch," in r.stdout
        assert r.stdout.rstrip().endswith("job hwk4tune-shipped: SUCCEEDED")
        status, job = c.api("/api/jobs/hwk4tune-shipped")
        assert status == 200 and job["runtime_env"]["py_modules"][0].startswith("gcs://_ray_pkg_")
        rows = results(storage / "shipped")
        assert len(rows) == 2 and all(t and t[-1]["epoch"] == 1 for t in rows.values())

        deadline = time.monotonic() + 60  # the cluster has no hwk4tune command of its own
        while (job := c.api("/api/jobs/hwk4tune-unshipped")[1])["status"] in ("PENDING", "RUNNING") \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        assert job["status"] == "FAILED", job
        status, logs = c.api("/api/jobs/hwk4tune-unshipped/logs")
        assert re.search(r"hwk4tune: (command )?not found", logs["logs"]), logs


@pytest.mark.parametrize("name", ["local.yaml", "aws.yaml"])
def test_cluster_launcher_configs_match_rays_schema(name):
    import json

    import jsonschema
    import ray.autoscaler
    import yaml

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    config = yaml.safe_load((ROOT / "launch" / "cluster" / name).read_text())
    jsonschema.validate(config, schema)
    assert any("hwk4tune" in cmd for cmd in config["setup_commands"])
    assert "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"])
