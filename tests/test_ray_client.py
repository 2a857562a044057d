"""Ray Client (``--address ray://HOST:PORT``) end to end against a loopback head (``local_cluster``): a sweep
runs to the end, ``table``, ``best`` and ``resume`` work on what it wrote, and a wrong address or a missing
token is one line, exit 2.

Through Ray Client, Tune's loop runs in an actor on the head node (Ray's ``TunerInternal``): the storage is
as the head sees it, which here is this machine's folder.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_cluster import LocalCluster, free_port, results, write_sweep

HWK4TUNE = str(Path(sys.executable).parent / "hwk4tune")
ROOT = Path(__file__).resolve().parent.parent
# the other venv's Ray: .venv-oldest's (`make test-oldest` builds it) from .venv, and .venv's from .venv-oldest
OTHER_RAY = next((ROOT / venv / "bin" / "ray" for venv in (".venv-oldest", ".venv")
                  if (ROOT / venv / "bin").resolve() != Path(sys.executable).parent.resolve()), None)


def _run(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([HWK4TUNE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _one_line(r: subprocess.CompletedProcess) -> str:
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stdout[-2000:], r.stderr[-3000:])
    return lines[0]


@pytest.mark.slow
@pytest.mark.oldest_ray
def test_a_sweep_runs_through_ray_client(tmp_path):
    t0 = time.monotonic()
    with LocalCluster(tmp_path / "cluster") as c:
        c.start_head(num_cpus=2, dashboard=True)
        sweep = write_sweep(tmp_path / "specs", max_epochs=1, subset=300, trials=2)
        storage, exp = tmp_path / "runs", tmp_path / "runs" / "client"

        r = _run(["run", str(sweep), "--address", c.client_address, "--storage", str(storage), "--name", "client"],
                 c.env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:] + c.client_server_logs()
        assert "2 trials planned: 2 finished, 0 errors" in r.stdout, r.stdout[-3000:]
        rows = results(exp)
        assert len(rows) == 2 and all(t and t[-1]["epoch"] == 1 for t in rows.values())
        assert (exp / "hwk4tune.json").exists() and (exp / "sweep.yaml").exists()

        for verb in (["table", str(exp)], ["best", str(exp), "-o", str(tmp_path / "best.yaml")]):
            r = _run(verb, c.env, 120)
            assert r.returncode == 0 and "val_accuracy" in r.stdout + r.stderr, (verb, r.stdout, r.stderr[-2000:])
        assert "trainable: cnn" in (tmp_path / "best.yaml").read_text()

        t_run = time.monotonic() - t0
        r = _run(["resume", str(exp), "--address", c.client_address], c.env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:] + c.client_server_logs()
        assert "2 trials planned: 2 finished, 0 errors" in r.stdout, r.stdout[-3000:]
        assert len(results(exp)) == 2

        t_resume = time.monotonic() - t0
        # the cluster asks for a token and this shell sends none: one line that says so
        # (Ray Client retries 3 times, 5 + 10 + 15 s by default: 1 s each here)
        env = {k: v for k, v in c.env.items() if not k.startswith("RAY_AUTH")} | {
            "HOME": str(tmp_path), "RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S": "1",
            "RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S": "1"}
        line = _one_line(_run(["run", str(sweep), "--address", c.client_address, "--storage", str(storage),
                               "--name", "no-token"], env, 300))
        assert line.startswith(f"hwk4tune run: cannot connect to Ray at {c.client_address}: its Ray Client server "
                               "answers but refused this session"), line
        assert "export RAY_AUTH_MODE=token" in line, line
        print(f"\nRay Client test: {time.monotonic() - t0:.1f} s wall (run, table, best: {t_run:.1f} s; "
              f"resume: {t_resume - t_run:.1f} s; refused without a token: {time.monotonic() - t0 - t_resume:.1f} s)")


@pytest.mark.oldest_ray
def test_a_wrong_ray_client_address_is_one_line(tmp_path):
    sweep = write_sweep(tmp_path / "specs", max_epochs=1, subset=300, trials=2)
    address = f"ray://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    r = _run(["run", str(sweep), "--address", address, "--storage", str(tmp_path / "runs")],
             {"PATH": str(Path(HWK4TUNE).parent), "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0"}, 300)
    line = _one_line(r)
    assert line.startswith(f"hwk4tune run: cannot connect to Ray at {address}"), line
    assert not list((tmp_path / "runs").glob("*/trial_*"))
    print(f"\nwrong address: {time.monotonic() - t0:.1f} s")


@pytest.mark.slow
@pytest.mark.skipif(OTHER_RAY is None or not OTHER_RAY.exists(), reason="no second venv with another Ray (make test-oldest)")
def test_a_cluster_of_another_ray_version_is_one_line(tmp_path):
    with LocalCluster(tmp_path / "cluster", ray=str(OTHER_RAY)) as c:
        c.start_head(num_cpus=1, dashboard=True)
        sweep = write_sweep(tmp_path / "specs", max_epochs=1, subset=300, trials=2)
        env = {**c.env, "PATH": f"{Path(HWK4TUNE).parent}:{c.env['PATH']}"}
        line = _one_line(_run(["run", str(sweep), "--address", c.client_address, "--storage", str(tmp_path / "runs"),
                               "--name", "mismatch"], env, 300))
        assert line.startswith(f"hwk4tune run: cannot connect to Ray at {c.client_address}: the cluster runs Ray "), line
        assert "a driver's Ray must match the cluster's" in line, line
