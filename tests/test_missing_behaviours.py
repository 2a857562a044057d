"""Behaviours that had no test (issue 29, item 2): a HyperBand sweep interrupted while trials wait paused at a
milestone, then resumed; a real Ctrl-C during `hwk4tune compare`, then `compare --resume`; one sweep of
hundreds of trials. Every trial runs a stand-in (tests/data/levels/levels.py, tests/sleeping.py): no torch, curves
fixed by the config, so what the schedulers must do is known before the sweep runs."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from test_resume import rows

DATA = Path(__file__).resolve().parent / "data"
LEVELS_TRAINABLE = DATA / "levels" / "levels.py"


def saved_statuses(exp: Path) -> dict[float, str]:
    """level -> the trial's status in Tune's newest saved experiment state."""
    state = max(exp.glob("experiment_state-*.json"), key=lambda f: f.stat().st_mtime_ns)
    out = {}
    for item in json.loads(state.read_text())["trial_data"]:
        info = json.loads(item[0])
        out[info["config"]["level"]] = info["status"]
    return out


RESUME_WITHIN_S = 90  # this resume takes about 5 s idle, 20-40 s beside two busy loops; one that never halves waits for ever


def resume_with_watchdog(exp: Path) -> None:
    """`resume_sweep`, stopped by a Ctrl-C (SIGINT to this process) if it has not ended in ``RESUME_WITHIN_S``:
    a sweep that hangs fails the test instead of the suite."""
    from hwk4tune.sweep import resume_sweep
    from hwk4tune.sweep.driver import SweepInterrupted

    done = threading.Event()

    def watch() -> None:
        if not done.wait(RESUME_WITHIN_S):
            os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.monotonic()
    try:
        resume_sweep(exp, verbose=False)
    except SweepInterrupted:
        pytest.fail(f"resume did not end within {RESUME_WITHIN_S} s (stopped by the watchdog)")
    finally:
        done.set()
        watcher.join()
    print(f"resumed in {time.monotonic() - t0:.1f} s")


# HyperBand, max_t 3, rf 3 (hwk4tune.spec.budgets.hyperband_fill(3, 3, 5)): its first bracket (s=0) takes the
# first 2 trials and runs them to epoch 3; its second (s=1) takes the next 3, runs each 1 epoch, pausing it
# until the bracket has all three there, then keeps the best third (ceil(3/3) = 1: level 0.7) to epoch 3
LEVELS = [0.5, 0.6, 0.3, 0.7, 0.4]
EPOCHS = {0.5: 3, 0.6: 3, 0.3: 1, 0.7: 3, 0.4: 1}


# where the sweep is interrupted -> the second bracket's trials as Tune saved them (level: statuses it may have)
INTERRUPTS = {
    # its last trial (0.4) presses Ctrl-C before its first epoch: 0.3 and 0.7 wait PAUSED at the milestone; or
    # one of them does and the other is still running its epoch 1 (0.4 starts in the slot the first to pause
    # frees: on a loaded machine, CI of 2026-12-05 23:20, the second had not reported yet)
    "waiting at the milestone": (0.4, 1, {0.3: {"PAUSED", "RUNNING"}, 0.7: {"PAUSED", "RUNNING"},
                                          0.4: {"RUNNING", "PENDING"}}),
    # the bracket halved (0.3 and 0.4 stopped at epoch 1) and its survivor presses Ctrl-C before its epoch 2
    "after halving": (0.7, 2, {0.3: {"TERMINATED"}, 0.4: {"TERMINATED"}, 0.7: {"RUNNING", "PAUSED", "PENDING"}}),
}


@pytest.mark.parametrize("interrupt", INTERRUPTS)
def test_hyperband_resumed_while_trials_wait_paused_keeps_halving(ray_local, tmp_path, interrupt):
    """Two trials at a time: the second bracket's first trials pause at epoch 1 while its last one runs. A
    trial of that bracket presses Ctrl-C and waits (``INTERRUPTS``: before the bracket halves, with trials
    PAUSED at the milestone in Tune's saved state, or after), so the sweep stops there; `resume` then halves the
    bracket as an uninterrupted sweep does: every trial runs exactly its expected epochs and ends TERMINATED;
    a paused one goes on from its milestone, each epoch once and in order (the CI of stop 35 saw the first
    bracket's trial, running at the Ctrl-C, repeat its epoch 2 from its recorded epoch-1 checkpoint: allowed)."""
    from ray.tune import ExperimentAnalysis

    from hwk4tune.spec import load_sweep
    from hwk4tune.spec.budgets import hyperband_fill
    from hwk4tune.sweep import run_sweep
    from hwk4tune.sweep.driver import SweepInterrupted

    level, epoch, saved = INTERRUPTS[interrupt]
    assert [(b.s, n) for b, n in hyperband_fill(3, 3, 5)] == [(0, 2), (1, 3)]
    marker = tmp_path / "interrupted"
    grid = ", ".join(map(str, LEVELS))
    (tmp_path / "space.yaml").write_text(
        f"trainable: {LEVELS_TRAINABLE}:train\nmetric: val_accuracy\nmode: max\nmax_epochs: 3\nspace:\n"
        f"  level: {{grid: [{grid}]}}\n  interrupt_pid: {os.getpid()}\n  interrupt_level: {level}\n"
        f"  interrupt_at: {epoch}\n  hold_s: 120\n  marker: {marker}\n")
    (tmp_path / "sweep.yaml").write_text(
        "space: space.yaml\nsearcher: grid\nscheduler: {name: hyperband, reduction_factor: 3}\n"
        "num_samples: 1\nmax_concurrent_trials: 2\n")
    with pytest.raises(SweepInterrupted):
        run_sweep(load_sweep(tmp_path / "sweep.yaml"), storage=str(tmp_path / "runs"), name="hb", verbose=False)
    exp = tmp_path / "runs" / "hb"
    assert marker.is_file()
    before = {rows(d)[0]["config"]["level"] if rows(d) else None: rows(d) for d in exp.glob("trial_*")}
    statuses = saved_statuses(exp)
    print("saved at the interrupt:", statuses)
    assert all(statuses[x] in allowed for x, allowed in saved.items()), statuses
    if interrupt == "waiting at the milestone":
        assert "PAUSED" in (statuses[0.3], statuses[0.7]), statuses  # one waits there at least
    for x in (0.3, 0.7):  # the bracket's first trials reached its milestone (epoch 1), and no further; one still
        epochs = [r["epoch"] for r in before.get(x, [])]  # running its epoch 1 at the Ctrl-C may not have reported
        still_running = interrupt == "waiting at the milestone" and statuses[x] == "RUNNING"
        assert epochs in ([], [1]) if still_running else epochs == [1], (x, epochs)

    resume_with_watchdog(exp)
    after = {}
    for d in exp.glob("trial_*"):
        r = rows(d)
        after[r[0]["config"]["level"]] = r
    assert sorted(after) == sorted(LEVELS)
    for level, r in after.items():
        old = before.get(level, [])
        assert r[:len(old)] == old, level  # rows before the interrupt kept
        resumed = [x["epoch"] for x in r[len(old):]]
        # a trial paused (or not started) at the interrupt goes on from the epoch after its last one, each
        # epoch once, in order; one RUNNING then goes on from its last checkpoint Tune recorded, which may
        # be older than its last row (the Ctrl-C came between the two): it may repeat epochs after it
        start = len(old) + 1 if statuses.get(level) != "RUNNING" else (resumed[0] if resumed else len(old) + 1)
        assert 1 <= start <= len(old) + 1, (level, [x["epoch"] for x in r])
        assert resumed == list(range(start, EPOCHS[level] + 1)), (level, [x["epoch"] for x in r])
    assert [t.status for t in ExperimentAnalysis(str(exp)).trials] == ["TERMINATED"] * len(LEVELS)


def compare_spec(tmp_path: Path, hold: Path) -> Path:
    """random+fifo vs random+asha, one seed, 2 trials x 2 epochs of the stand-in trainable; each trial waits
    before its epoch 2 while ``hold`` exists."""
    import yaml
    from sleeping import TRAIN

    spec = {
        "space": {"trainable": TRAIN, "metric": "val_accuracy", "mode": "max", "max_epochs": 2,
                  "space": {"lr": {"loguniform": [1.0e-3, 0.1]}, "hold": str(hold), "hold_from": 2}},
        "budget": {"num_samples": 2},
        "seeds": [0],
        "max_concurrent_trials": 1,
        "strategies": {"random+fifo": {"searcher": "random", "scheduler": "fifo"},
                       "random+asha": {"searcher": "random", "scheduler": {"name": "asha", "grace_period": 1}}},
    }
    path = tmp_path / "compare.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_ctrl_c_during_compare_then_resume(ray_local, tmp_path):
    """A real Ctrl-C (SIGINT) to `hwk4tune compare` once its first run's first trial has reported an epoch
    (it then waits on a file, so the signal always lands mid-run): exit 130 and the resume command printed;
    `compare --resume` then runs every run to its end and the comparison's tables hold every run."""
    import subprocess
    import sys

    import pandas as pd

    from hwk4tune.cli import main
    from hwk4tune.compare import FILES, load_comparison
    from hwk4tune.store.records import RUN_FILE

    hold = tmp_path / "hold"
    hold.touch()
    spec = compare_spec(tmp_path, hold)
    out = tmp_path / "out"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "compare.log"
    with open(log, "w") as text:
        driver = subprocess.Popen([sys.executable, "-m", "hwk4tune.cli", "compare", str(spec), "--out", str(out)],
                                  stdout=text, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any(rows(d) for d in out.glob("runs/*/trial_*")):  # a trial has reported its epoch 1
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        driver.send_signal(signal.SIGINT)
        code = driver.wait(timeout=120)
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        driver.wait(timeout=30)
    printed = log.read_text()
    print(printed[-3000:])
    assert code == 130, printed[-3000:]
    # the comparison's resume command, last: not only the interrupted run's `hwk4tune resume OUT/runs/RUN`
    # (a comparison never reads what that finishes: it runs an interrupted run again from scratch)
    last = printed.rstrip().splitlines()[-2:]
    assert f"comparison interrupted; resume it with:  hwk4tune compare {spec} --out {out} --resume" in last, last
    runs = {json.loads(f.read_text())["name"]: json.loads(f.read_text())["status"] for f in out.glob(f"runs/*/{RUN_FILE}")}
    assert runs == {"random+fifo-seed0": "running"}, runs  # the first run, interrupted; the second never began

    hold.unlink()
    assert main(["compare", str(spec), "--out", str(out), "--resume"]) == 0
    comparison = load_comparison(out)
    assert len(comparison.experiments) == 2
    for f in out.glob(f"runs/*/{RUN_FILE}"):
        assert json.loads(f.read_text())["status"] == "done", f
    table = pd.read_csv(out / FILES["runs_csv"])
    assert sorted(table["strategy"]) == ["random+asha", "random+fifo"] and (table["trials_started"] == 2).all()
    summary = pd.read_csv(out / FILES["csv"])
    assert sorted(summary["strategy"]) == ["random+asha", "random+fifo"]
    assert (summary["trials_started"] == 2).all() and (summary["trials_errored"] == 0).all()


# Measured on the 2-core machine while CI ran on the same cores (load average 12-14): 500 trials, 20 at a time,
# 100 s; 250 trials, 8 at a time, 74 s; 500, 32 at a time, 166 s; 250, 20 at a time, 216 s after the other tests
# of this file. None fits 60 s under that load: 250 is kept, marked slow, its time printed.
MANY = 250


@pytest.mark.slow
def test_a_sweep_of_many_trials_loses_none(ray_local, tmp_path):
    """MANY one-epoch trials of the stand-in trainable (no sleep), random search, FIFO, many at once: every
    trial has its folder, ended TERMINATED in Tune's saved state with its one epoch, and `load_experiment`
    reads the folder into a table of MANY rows (its time printed, not asserted: the machine decides it)."""
    from ray.tune import ExperimentAnalysis
    from sleeping import TRAIN

    from hwk4tune.results import load_experiment
    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    (tmp_path / "space.yaml").write_text(
        f"trainable: {TRAIN}\nmetric: val_accuracy\nmode: max\nmax_epochs: 1\n"
        "space:\n  lr: {loguniform: [1.0e-4, 0.1]}\n  hidden: {randint: [8, 4096]}\n  sleep: 0\n")
    (tmp_path / "sweep.yaml").write_text(
        f"space: space.yaml\nsearcher: {{name: random, seed: 0}}\nscheduler: fifo\nnum_samples: {MANY}\n"
        "max_concurrent_trials: 20\nresources_per_trial: {cpu: 0.1}\n")
    t0 = time.monotonic()
    exp = run_sweep(load_sweep(tmp_path / "sweep.yaml"), storage=str(tmp_path / "runs"), name="many", verbose=False)
    print(f"\n{MANY} trials ran in {time.monotonic() - t0:.1f} s")

    dirs = sorted(exp.glob("trial_*"))
    assert len(dirs) == MANY
    for d in dirs:
        r = rows(d)
        assert [x["epoch"] for x in r] == [1] and r[-1]["done"], d.name
    statuses = [t.status for t in ExperimentAnalysis(str(exp)).trials]
    assert statuses == ["TERMINATED"] * MANY
    configs = {(round(rows(d)[0]["config"]["lr"], 12), rows(d)[0]["config"]["hidden"]) for d in dirs}
    assert len(configs) == MANY  # all different: no trial ran twice under two names

    t0 = time.monotonic()
    trials = load_experiment(exp).trials
    print(f"load_experiment of {MANY} trials: {time.monotonic() - t0:.2f} s")
    assert len(trials) == MANY and trials["trial_id"].is_unique
    assert set(trials["status"]) == {"TERMINATED"} and (trials["epochs"] == 1).all()
    assert set(trials["trial_id"]) == {d.name.removeprefix("trial_") for d in dirs}
