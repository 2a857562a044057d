"""Pytest hooks that make a CI log readable when CI itself is cut short (``HWK4TUNE_CI=1``, set by ``.ci/run``).

CI keeps only the tail of its output and kills the run at its time limit, so pytest's summary of failures, printed
at the very end, can be lost. In CI these hooks print, as it happens:
- at the start, the machine's cores, load, free memory and free disk;
- each failure's full report, at once, with the load and free memory and disk at that moment;
- each test that ran longer than a minute, with the time since the session started.
A test that hangs is ended by pytest-timeout (``timeout`` in pyproject.toml), so a hang is a reported failure too.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

from ci_skips import in_ci

LONG_TEST_S = 60
_started = time.monotonic()


def machine_state() -> str:
    """One line: load average, free memory and free disk where the tests write (tmp)."""
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    free_disk = shutil.disk_usage(tempfile.gettempdir()).free / 2**30
    available = "?"
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = f"{int(line.split()[1]) / 2**20:.1f}"
    except OSError:
        pass
    return (f"t+{time.monotonic() - _started:.0f}s cores={os.cpu_count()} load={load} "
            f"mem_available={available}GiB tmp_free={free_disk:.1f}GiB")


def _say(text: str) -> None:
    sys.stderr.write(f"\n[ci] {text}\n")
    sys.stderr.flush()


def pytest_sessionstart(session):
    if in_ci():
        _say(f"machine: {machine_state()}")


def pytest_runtest_logreport(report):
    if not in_ci():
        return
    if report.failed:
        _say(f"FAILED {report.nodeid} ({report.when}, {report.duration:.1f}s) {machine_state()}\n"
             f"{report.longreprtext}")
    elif report.when == "call" and report.duration > LONG_TEST_S:
        _say(f"long: {report.nodeid} {report.duration:.0f}s {machine_state()}")
