"""Shared fixtures: one local Ray for the whole test session (starting Ray costs 5-8 s here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ray's own usage-stats prompt and metrics agent are noise in tests
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_local():
    """A session-wide embedded Ray with 2 CPUs; tests that need Ray request this fixture.

    `address="local"` always starts a new Ray: a bare `ray.init()` would join any cluster recorded in
    /tmp/ray, even a dead one left by another run.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def root() -> Path:
    return ROOT


from ci_skips import pytest_configure, pytest_runtest_makereport  # noqa: E402,F401 - hooks: a skip in CI fails
