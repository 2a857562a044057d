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


def _run(tmp_path, ci: bool) -> subprocess.CompletedProcess:
    (tmp_path / "test_cases.py").write_text(CASES)
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    env.pop("HWK4TUNE_CI", None)
    if ci:
        env["HWK4TUNE_CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "ci_skips", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_cases.py")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_skip_of_a_required_test_fails_in_ci(tmp_path):
    out = _run(tmp_path, ci=True)
    assert out.returncode == 1, out.stdout
    assert "1 failed, 1 skipped" in out.stdout
    assert "skipped in CI (HWK4TUNE_CI=1), which is a failure here: " in out.stdout
    assert "no chromium here" in out.stdout and "SKIPPED [1] test_cases.py" in out.stdout  # -rs lists the rest


def test_outside_ci_a_skip_stays_a_skip(tmp_path):
    out = _run(tmp_path, ci=False)
    assert out.returncode == 0 and "2 skipped" in out.stdout, out.stdout
