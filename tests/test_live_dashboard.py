"""optuna-dashboard over a running sweep: `hwk4tune run --dashboard` prints both URLs, a headless Chromium
opens the Optuna one, sees the study and its trial count grow while the sweep runs, and saves a screenshot;
`hwk4tune dashboard DIR` serves a finished experiment, on 127.0.0.1 unless told otherwise (then a warning).

The sweep runs in a subprocess with its own embedded Ray (as `hwk4tune run` does for a user)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from local_cluster import _descendants, _kill_tree, read_until

pytestmark = pytest.mark.slow
HWK4TUNE = str(Path(sys.executable).parent / "hwk4tune")
NAME = "optuna-live"
HAS_CHROMIUM = Path("/usr/bin/chromium").exists() or bool(shutil.which("chromium"))


def _write_sweep(tmp: Path, epochs: int, trials: int) -> Path:
    (tmp / "space.yaml").write_text(
        f"trainable: cnn\ndataset: {{name: digits, subset: 300}}\nmax_epochs: {epochs}\n"
        "space:\n  optimizer: {choice: [sgd, adam]}\n  lr: {loguniform: [1.0e-3, 0.1]}\n  hidden: 32\n")
    sweep = tmp / "sweep.yaml"
    sweep.write_text(f"space: space.yaml\nsearcher: {{name: random, seed: 0}}\n"
                     "scheduler: {name: asha, grace_period: 2, reduction_factor: 2}\n"
                     f"num_samples: {trials}\nmax_concurrent_trials: 1\n")
    return sweep


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=20) as resp:
        return json.loads(resp.read().decode())


def _trial_count(base: str, name: str = NAME) -> int:
    studies = _get_json(base + "api/studies")["study_summaries"]
    study = next(s for s in studies if s["study_name"] == name)
    return len(_get_json(f"{base}api/studies/{study['study_id']}")["trials"])


def _journal_trial_count(exp: Path, name: str = NAME) -> int:
    from hwk4tune.live.mirror import open_storage
    from hwk4tune.live.server import find_journal

    storage = open_storage(find_journal(exp))
    return len(storage.get_all_trials(storage.get_study_id_from_name(name)))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("optuna-dashboard")
    sweep = _write_sweep(tmp, epochs=30, trials=12)  # about a minute or more; stopped at the end
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    log = tmp / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([HWK4TUNE, "run", str(sweep), "--dashboard", "--storage", str(tmp / "runs"),
                                 "--name", NAME], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = read_until(proc, log, r"Optuna dashboard: (http://\S+)", timeout=180).group(1)
        yield proc, url, log, tmp / "runs" / NAME
    finally:
        tree = _descendants(proc.pid)
        _kill_tree(proc.pid, tree)
        proc.wait(timeout=60)


def test_run_dashboard_prints_both_urls(live):
    proc, url, log, exp = live
    text = read_until(proc, log, r"Ray dashboard: http://127\.0\.0\.1:\d+", timeout=60).string
    assert url.startswith("http://127.0.0.1:")
    assert f"(trials live from {exp / 'optuna.journal'})" in text


@pytest.mark.ci_required  # in CI (HWK4TUNE_CI=1) a missing chromium fails this test instead of skipping it
@pytest.mark.skipif(not HAS_CHROMIUM, reason="needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)")
def test_browser_sees_the_study_grow(live, tmp_path):
    from browser import Chromium

    proc, url, log, exp = live
    shots = Path(os.environ.get("HWK4TUNE_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    async def scenario() -> tuple[str, int, int, str]:
        async with Chromium() as page:
            await page.call("Page.navigate", url=url)
            home = await page.wait_text(NAME, timeout=90)
            first = await _wait_count(url, at_least=1)
            second = await _wait_count(url, at_least=first + 1)  # the sweep goes on: more trials appear
            studies = _get_json(url + "api/studies")["study_summaries"]
            study_id = next(s["study_id"] for s in studies if s["study_name"] == NAME)
            await page.call("Page.navigate", url=f"{url}dashboard/studies/{study_id}")
            study_page = await page.wait_text("val_accuracy", timeout=90)
            await asyncio.sleep(3)  # the charts draw
            await page.screenshot(shots / "optuna-dashboard.png")
            return home, first, second, study_page

    home, first, second, study_page = asyncio.run(scenario())
    assert NAME in home
    assert 1 <= first < second
    assert "val_accuracy" in study_page
    assert (shots / "optuna-dashboard.png").stat().st_size > 10_000


async def _wait_count(base: str, at_least: int, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = _trial_count(base)
        if n >= at_least:
            return n
        await asyncio.sleep(1)
    raise TimeoutError(f"the study never had {at_least} trials")


def test_dashboard_verb_serves_a_folder(live, tmp_path):
    """`hwk4tune dashboard DIR --port 0` on the live experiment: the same study, from another process."""
    proc, url, log, exp = live
    out = tmp_path / "dash.log"
    with open(out, "w") as f:
        server = subprocess.Popen([HWK4TUNE, "dashboard", str(exp), "--port", "0"], stdout=f,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        own = read_until(server, out, r"Optuna dashboard: (http://\S+)", timeout=60).group(1)
        assert own.startswith("http://127.0.0.1:") and own != url
        # the same study as the sweep's journal, read in between: as many trials as it had then, or the ones
        # the live sweep added meanwhile (the journal, not the sweep's own dashboard: on a loaded machine the
        # sweep may have ended, and its dashboard with it, before this test runs)
        before = _journal_trial_count(exp)
        seen = _trial_count(own)
        assert 1 <= before <= seen <= _journal_trial_count(exp), (before, seen)
        assert "WARNING" not in out.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_dashboard_non_loopback_warns(tmp_path):
    from hwk4tune.live.server import warning_for

    assert warning_for("127.0.0.1") is None and warning_for("::1") is None
    text = warning_for("0.0.0.0")
    assert text.count("!" * 100) == 2 and "0.0.0.0" in text and "NO\nauthentication" in text


def test_dashboard_refuses_a_folder_without_journal(tmp_path, capsys):
    from hwk4tune.cli import main

    assert main(["dashboard", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no optuna.journal" in err[0]


def test_reopen_line_is_a_command_for_the_folder(tmp_path):
    from hwk4tune.live.reopen import ReopenHint
    from hwk4tune.live.server import reopen_line

    folder = tmp_path / "runs" / "a b"
    line = reopen_line(folder / "optuna.journal")
    assert "both dashboards close as hwk4tune exits" in line
    assert shlex.split(line.split("see the trials again with:", 1)[1]) == ["hwk4tune", "dashboard", str(folder)]
    out = io.StringIO()
    ReopenHint(folder / "optuna.journal", file=out).on_experiment_end(trials=[])
    assert out.getvalue() == line + "\n"


def test_run_dashboard_ends_with_a_reopen_command_that_serves_the_finished_sweep(ray_local, tmp_path, capsys):
    """Issue 31: `run --dashboard` closed both dashboards when the sweep ended, and said nothing. Now it prints
    `hwk4tune dashboard DIR` when the sweep ends, and that command, run as a user would, serves every trial
    of the finished experiment."""
    from hwk4tune.live import LiveOptions
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    name = "reopen-me"
    spec = load_sweep(_write_sweep(tmp_path, epochs=2, trials=2))
    exp = run_sweep(spec, storage=str(tmp_path / "runs"), name=name, verbose=False,
                    live=LiveOptions(dashboard=True, dashboard_port=0))
    err = capsys.readouterr().err
    line = next((x for x in err.splitlines() if "see the trials again with:" in x), None)
    assert line, err
    command = shlex.split(line.split("see the trials again with:", 1)[1])
    assert command == ["hwk4tune", "dashboard", str(exp)]
    out = tmp_path / "dash.log"
    with open(out, "w") as f:
        server = subprocess.Popen([HWK4TUNE, *command[1:], "--port", "0"], stdout=f, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        url = read_until(server, out, r"Optuna dashboard: (http://\S+)", timeout=60).group(1)
        assert _trial_count(url, name) == 2
        states = {t["state"] for t in _get_json(f"{url}api/studies/0")["trials"]}
        assert states <= {"Complete", "Pruned"}, states
    finally:
        server.terminate()
        server.wait(timeout=30)
