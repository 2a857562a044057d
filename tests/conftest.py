"""Shared fixtures: one local Ray for the whole test session (starting Ray costs 5-8 s here)."""

from __future__ import annotations

import os
import time
import warnings
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

    One case is Ray's, not the test's: its raylet can lose a CPU for good when Tune removes a trial's placement
    group while the trial's worker is exiting (seen under Ray 2.55 and 2.60, about 1 run in 10 of a HyperBand
    sweep on a loaded machine: the raylet's debug_state.txt then shows 1 of 2 CPUs available with no lease, no
    bundle and no worker; ray-project/ray#53195 fixed a sibling of that race). Nothing of the test is alive
    then, so it is not failed for it: Ray is restarted and a warning says what was seen.
    """
    yield
    if "ray_local" not in request.fixturenames:
        return
    import ray

    if not ray.is_initialized():
        return
    deadline = time.monotonic() + CPUS_FREED_WITHIN_S
    lost_by_ray = False
    try:
        while (free := ray.available_resources().get("CPU", 0)) < RAY_CPUS and time.monotonic() < deadline:
            time.sleep(0.5)
        problem = None
        if free < RAY_CPUS:
            groups, workers = _live_placement_groups(), _busy_workers()
            lost_by_ray = not groups and not workers
            holders = "; ".join(part for part in (f"placement groups {groups}" if groups else "",
                                                  f"workers {workers}" if workers else "") if part)
            problem = (f"left {RAY_CPUS - free:g} of the session Ray's {RAY_CPUS} CPUs held {CPUS_FREED_WITHIN_S} s "
                       f"after it ended (held by: {holders or NOTHING_ALIVE})")
    except Exception as e:  # noqa: BLE001 - a dead node or GCS: say so, and give the next tests a new Ray
        problem = f"left the session Ray unable to answer ({type(e).__name__}: {e})"
    if problem:
        ray.shutdown()
        _start_ray()
        message = f"{request.node.nodeid} {problem}; Ray was restarted for the tests after it"
        if lost_by_ray:
            warnings.warn(f"{message} (Ray's own accounting lost the CPUs: see _ray_left_as_found)", stacklevel=1)
        else:
            pytest.fail(message)


NOTHING_ALIVE = "nothing alive: no placement group, no worker of this session's Ray but idle ones"


def _live_placement_groups() -> dict:
    """The placement groups still alive and their bundles (Tune gives each trial one)."""
    from ray.util import placement_group_table

    return {k[:8]: (v.get("name", ""), v["state"], list(v["bundles"].values()))
            for k, v in placement_group_table().items() if v["state"] != "REMOVED"}


IDLE_TITLES = {"ray::IDLE", "ray::DashboardAgent", "ray::RuntimeEnvAgent"}


def _busy_workers() -> list[str]:
    """The `ray::` processes below this pytest process (the session Ray's raylet is its child, the workers its
    children) that run an actor or a task: Ray sets each worker's title to what it runs (`ray::IDLE` holds
    nothing)."""
    busy = []
    for pid in _descendants(os.getpid()):
        try:
            title = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:  # the process ended as we read it
            continue
        if title.startswith("ray::") and title.split()[0] not in IDLE_TITLES:
            busy.append(f"{title.split()[0]} (pid {pid})")
    return sorted(busy)


def pytest_collection_modifyitems(config, items):
    """Files with slow tests first, the file with the most first; a file's own order is kept. `make test`
    gives each of two xdist workers a whole file at a time in this order (--no-loadscope-reorder): the long
    files then run while the short ones fill the gaps, instead of the slowest file running alone at the end
    (xdist's own order puts files with many tests first, and the slow ones have few)."""
    from collections import Counter

    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])


@pytest.fixture
def root() -> Path:
    return ROOT


from ci_diagnostics import pytest_runtest_logreport, pytest_sessionstart  # noqa: E402,F401 - hooks: CI log
from ci_skips import pytest_configure, pytest_runtest_makereport  # noqa: E402,F401 - hooks: a skip in CI fails
from local_cluster import _descendants  # noqa: E402 - the /proc walk, shared
