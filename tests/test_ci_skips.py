"""With HWK4TUNE_CI=1 a skip of a ``ci_required`` test fails the run; other skips (the GPU test) stay skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CASES = '''
import pytest

@pytest.mark.ci_required
def test_needs_chromium():
    pytest.skip("no chromium here")

def test_needs_cuda():
    pytest.skip("no CUDA here")
'''


def _run(tmp_path, cases: str, plugin: str, ci: bool, timeout: int = 120) -> subprocess.CompletedProcess:
    """pytest over ``cases`` in a subprocess, with only the hooks of ``plugin`` (a module in tests/)."""
    (tmp_path / "test_cases.py").write_text(cases)
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    env.pop("HWK4TUNE_CI", None)
    if ci:
        env["HWK4TUNE_CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", plugin, "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_cases.py")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=timeout)


def test_skip_of_a_required_test_fails_in_ci(tmp_path):
    out = _run(tmp_path, CASES, "ci_skips", ci=True)
    assert out.returncode == 1, out.stdout
    assert "1 failed, 1 skipped" in out.stdout
    assert "skipped in CI (HWK4TUNE_CI=1), which is a failure here: " in out.stdout
    assert "no chromium here" in out.stdout and "SKIPPED [1] test_cases.py" in out.stdout  # -rs lists the rest


def test_outside_ci_a_skip_stays_a_skip(tmp_path):
    out = _run(tmp_path, CASES, "ci_skips", ci=False)
    assert out.returncode == 0 and "2 skipped" in out.stdout, out.stdout


HANGS = '''
import time
import pytest

def test_fails():
    assert 1 + 1 == 3, "arithmetic broke"

@pytest.mark.timeout(2)
def test_hangs():
    time.sleep(600)

def test_after_the_hang():
    pass
'''


def test_in_ci_a_failure_is_printed_at_once_and_a_hang_ends_as_a_failure(tmp_path):
    """CI keeps only its output's tail and is killed at its time limit: a failure's report must not wait for the
    summary at the end, and a hung test must fail (pytest-timeout) rather than run the clock out."""
    out = _run(tmp_path, HANGS, "ci_diagnostics", ci=True)
    assert out.returncode == 1 and "2 failed, 1 passed" in out.stdout, out.stdout + out.stderr
    assert "[ci] machine: t+" in out.stderr and " load=" in out.stderr and " tmp_free=" in out.stderr
    first, second = out.stderr.index("[ci] FAILED test_cases.py::test_fails"), out.stderr.index("arithmetic broke")
    assert first < second < out.stderr.index("[ci] FAILED test_cases.py::test_hangs")
    assert "Failed: Timeout (>2.0s) from pytest-timeout" in out.stderr.split("[ci] FAILED test_cases.py::test_hangs")[1]


LEAKS = '''
import conftest
import ray

conftest.CPUS_FREED_WITHIN_S = 1


@ray.remote(num_cpus=1)
class Holder:
    def ping(self):
        return 1


def test_leaks_a_cpu(ray_local):
    global held  # kept alive past the test, as a trial left running would be
    held = Holder.remote()
    assert ray.get(held.ping.remote()) == 1


@ray.remote(num_cpus=2)
def needs_both_cpus():
    return 2


def test_after_the_leak_gets_both_cpus(ray_local):
    # a task that needs both CPUs runs: what a leak would stop (the resource view can lag a fresh Ray's start)
    assert ray.get(needs_both_cpus.remote(), timeout=60) == 2
'''


def test_a_test_that_leaves_ray_cpus_held_errors_and_the_next_gets_a_clean_ray(tmp_path):
    """One test's leaked actor must not make every later 2-CPU trial wait for ever (a hung suite)."""
    out = _run(tmp_path, LEAKS, "conftest", ci=False, timeout=300)
    assert "2 passed, 1 error" in out.stdout, out.stdout + out.stderr
    # named by the worker process that holds it: a leak of the test's, not the raylet's own lost count
    assert ("test_cases.py::test_leaks_a_cpu left 1 of the session Ray's 2 CPUs held 1 s after it ended (held by: "
            "workers ['ray::Holder (pid " in out.stdout), out.stdout
    assert "; Ray was restarted for the tests after it" in out.stdout, out.stdout
