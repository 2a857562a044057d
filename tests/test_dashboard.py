"""The dashboard of a running sweep: token authentication, loopback by default, a warning when exposed
without authentication, and a real browser that logs in with the token and sees the sweep's actors.

One live sweep (`hwk4tune run --dashboard`, its own embedded Ray in a subprocess, its own token file)
serves the tests of this module; nothing here touches the session-wide ``ray_local``. Its trials run the
stand-in trainable of tests/sleeping.py (no torch, no data set): the dashboard shows actors, not training.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from local_cluster import _descendants, _kill_tree, read_until, write_sweep
from sleeping import TRAIN

pytestmark = pytest.mark.slow
HWK4TUNE = str(Path(sys.executable).parent / "hwk4tune")
SWEEP_NAME = "dash-live"


class LiveSweep:
    def __init__(self, proc: subprocess.Popen, url: str, token: str, log: Path):
        self.proc, self.url, self.token, self.log = proc, url, token, log

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])


def _stand_in_sweep(folder: Path, *, max_epochs: int, sleep: float) -> Path:
    """``local_cluster.write_sweep``'s grid of 4 trials, 2 at a time, on the stand-in trainable sleeping
    ``sleep`` s an epoch."""
    sweep = write_sweep(folder, max_epochs=max_epochs, subset=None, trials=4)
    space = folder / "spaces" / "tiny.yaml"
    lines = [line for line in space.read_text().splitlines() if not line.startswith(("trainable:", "dataset:"))]
    space.write_text("\n".join([f"trainable: {TRAIN}", *lines, f"  sleep: {sleep}", ""]))
    return sweep


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C first (Tune saves, Ray shuts down), then SIGKILL whatever of the tree is left."""
    tree = _descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    _kill_tree(proc.pid, tree)


@pytest.fixture(scope="module")
def live_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    # long enough to outlive the module's tests (0.3 s an epoch, 1000 epochs); stopped at the end
    sweep = _stand_in_sweep(tmp, max_epochs=1000, sleep=0.3)
    token = secrets.token_hex(32)
    (tmp / "auth_token").write_text(token)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(tmp / "auth_token"),
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    log = tmp / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([HWK4TUNE, "run", str(sweep), "--dashboard", "--storage", str(tmp / "runs"),
                                 "--name", SWEEP_NAME], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = read_until(proc, log, r"Ray dashboard: (http://\S+)", timeout=180).group(1)
        read_until(proc, log, rf"{SWEEP_NAME}_\w+ \| RUNNING", timeout=180)  # trials have started
        yield LiveSweep(proc, url, token, log)
    finally:
        _stop(proc)


def _get(url: str, token: str | None):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def test_api_refuses_without_token_and_answers_with_it(live_sweep):
    for path in ("/api/jobs/", "/api/v0/actors?limit=10"):
        assert _get(live_sweep.url + path, None)[0] == 401
        assert _get(live_sweep.url + path, "0" * 64)[0] == 403
        status, body = _get(live_sweep.url + path, live_sweep.token)
        assert status == 200, body[:500]
    # the run printed how to get the token
    assert "ray get-auth-token" in live_sweep.log.read_text()


def _listening(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp, IPv4)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hexport = local.split(":")
        if state == "0A" and int(hexport, 16) == port:
            found.add(".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_dashboard_binds_loopback_by_default(live_sweep):
    assert live_sweep.url.startswith("http://127.0.0.1:")
    assert _listening(live_sweep.port) == {"127.0.0.1"}
    assert "WARNING" not in live_sweep.log.read_text()


def test_exposed_dashboard_without_auth_warns(tmp_path):
    """`--dashboard-host 0.0.0.0` with RAY_AUTH_MODE=disabled: the loud warning comes before Ray starts (the
    test stops the run as soon as it appears, so nothing listens unprotected)."""
    sweep = _stand_in_sweep(tmp_path, max_epochs=1, sleep=0)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([HWK4TUNE, "run", str(sweep), "--dashboard", "--dashboard-host", "0.0.0.0",
                                 "--storage", str(tmp_path / "runs")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        read_until(proc, log, r"CVE-2023-48022", timeout=120)
    finally:
        tree = _descendants(proc.pid)
        _kill_tree(proc.pid, tree)
        proc.wait(timeout=30)
    text = log.read_text()
    assert "WARNING: the Ray dashboard will listen on 0.0.0.0 with authentication DISABLED" in text


@pytest.mark.ci_required
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                    reason="needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)")
def test_browser_logs_in_with_token_and_sees_the_sweep(live_sweep, tmp_path):
    from browser import Chromium

    shots = Path(os.environ.get("HWK4TUNE_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    async def scenario() -> tuple[str, str, list]:
        async with Chromium() as page:
            await page.call("Page.navigate", url=live_sweep.url + "/#/actors")
            await page.wait_text("Authentication Token Required")
            await page.eval("document.querySelector('input[placeholder=\"Enter your authentication token\"]')"
                            ".focus()")
            await page.type_enter(live_sweep.token)
            await asyncio.sleep(2)  # the page reloads once the token is accepted
            cookies = (await page.call("Network.getCookies", urls=[live_sweep.url]))["cookies"]
            await page.call("Page.navigate", url=live_sweep.url + "/#/actors")
            actors = await page.wait_text(f"hwk4tune.{SWEEP_NAME}", timeout=90)
            await asyncio.sleep(1)
            await page.screenshot(shots / "dashboard-actors.png")
            await page.call("Page.navigate", url=live_sweep.url + "/#/jobs")
            jobs = await page.wait_text(f"hwk4tune {SWEEP_NAME}", timeout=60)
            await page.screenshot(shots / "dashboard-jobs.png")
            return actors, jobs, cookies

    actors, jobs, cookies = asyncio.run(scenario())
    assert any(c["name"] == "ray-authentication-token" for c in cookies)
    assert "Authentication Token Required" not in actors
    assert f"hwk4tune.{SWEEP_NAME}" in actors
    assert SWEEP_NAME in jobs  # the driver job's entrypoint names the sweep
    for name in ("dashboard-actors.png", "dashboard-jobs.png"):
        assert (shots / name).stat().st_size > 10_000
