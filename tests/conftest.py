"""Shared fixtures: one local Ray for the whole test session (starting Ray costs 5-8 s here)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ray's own usage-stats prompt and metrics agent are noise in tests
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


RAY_CPUS = 2
CPUS_FREED_WITHIN_S = 60  # a busy 2-core machine takes 30+ s to reap a finished sweep's workers


def _start_ray():
    """`address="local"` always starts a new Ray: a bare `ray.init()` would join any cluster recorded in
    /tmp/ray, even a dead one left by another run."""
    import ray

    ray.init(address="local", num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False,
             configure_logging=False)


@pytest.fixture(scope="session")
def ray_local():
    """A session-wide embedded Ray with 2 CPUs; tests that need Ray request this fixture."""
    import ray

    if not ray.is_initialized():
        _start_ray()
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def _ray_left_as_found(request):
    """After a test that used the session Ray, all its CPUs must be free again.

    A trial or actor left holding a CPU would make every later trial that asks for 2 CPUs wait for ever, so the
    suite would hang far from the test at fault. Instead the test at fault errors here, naming what it held,
    and Ray is restarted so that the tests after it run on a clean one.
    """
    yield
    if "ray_local" not in request.fixturenames:
        return
    import ray

    if not ray.is_initialized():
        return
    deadline = time.monotonic() + CPUS_FREED_WITHIN_S
    try:
        while (free := ray.available_resources().get("CPU", 0)) < RAY_CPUS and time.monotonic() < deadline:
            time.sleep(0.5)
        problem = (f"left {RAY_CPUS - free:g} of the session Ray's {RAY_CPUS} CPUs held {CPUS_FREED_WITHIN_S} s "
                   f"after it ended (held by: {_holders()})") if free < RAY_CPUS else None
    except Exception as e:  # noqa: BLE001 - a dead node or GCS: say so, and give the next tests a new Ray
        problem = f"left the session Ray unable to answer ({type(e).__name__}: {e})"
    if problem:
        ray.shutdown()
        _start_ray()
        pytest.fail(f"{request.node.nodeid} {problem}; Ray was restarted for the tests after it")


def _holders() -> str:
    """The placement groups still alive and their bundles: what holds the CPUs (Tune gives each trial one)."""
    from ray.util import placement_group_table

    alive = {k[:8]: (v.get("name", ""), v["state"], list(v["bundles"].values()))
             for k, v in placement_group_table().items() if v["state"] != "REMOVED"}
    return f"placement groups {alive}" if alive else "no placement group: an actor or task outside one"


@pytest.fixture
def root() -> Path:
    return ROOT


from ci_diagnostics import pytest_runtest_logreport, pytest_sessionstart  # noqa: E402,F401 - hooks: CI log
from ci_skips import pytest_configure, pytest_runtest_makereport  # noqa: E402,F401 - hooks: a skip in CI fails
