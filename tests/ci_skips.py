"""Pytest hooks: in CI (``HWK4TUNE_CI=1``, exported by ``.ci/run``) a test marked ``ci_required`` cannot
pass by skipping. Loaded by ``conftest.py``; ``-p ci_skips`` loads it alone (``test_ci_skips.py``)."""

from __future__ import annotations

import os

import pytest

CI_VARIABLE = "HWK4TUNE_CI"  # .ci/run exports it


def in_ci() -> bool:
    return os.environ.get(CI_VARIABLE) == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "ci_required: needs a system package that .ci/run installs (chromium, "
                                       f"dataset-fashion-mnist); with {CI_VARIABLE}=1 a skip of it is a failure")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a marked test cannot pass by skipping: its skip becomes a failure that says why it skipped.
    (Tests not marked, e.g. the GPU test where CUDA is absent, may still skip.)"""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and item.get_closest_marker("ci_required"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} skipped in CI ({CI_VARIABLE}=1), which is a failure here: {reason}"
