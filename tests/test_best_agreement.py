"""One definition of "best": run's summary, table, best, report and compare all rank trials by their best
epoch (tests/data/peaked/: curves whose best and last epochs rank the trials in reverse); `--last` ranks by
the last epoch. And what the scheduler did, in run's summary."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hwk4tune.cli import main

PEAKED = Path(__file__).parent / "data" / "peaked"


@pytest.fixture(scope="module")
def peaked_sweep(ray_local, tmp_path_factory):
    """The grid sweep of the three known curves, with run's printed summary."""
    import contextlib

    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exp_dir = run_sweep(load_sweep(PEAKED / "sweep.yaml"), storage=str(tmp_path_factory.mktemp("runs")),
                            name="peaked")
    return Path(exp_dir), out.getvalue()


def _trial_of(exp_dir: Path, curve: int) -> str:
    trials = pd.read_csv(io.StringIO(_table(exp_dir, "--format", "csv")))
    return str(trials.loc[trials["config/curve"] == curve, "trial_id"].iloc[0])


def _table(exp_dir: Path, *args: str) -> str:
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["table", str(exp_dir), *args]) == 0
    return buf.getvalue()


def test_all_five_name_the_same_best(peaked_sweep, tmp_path, capsys):
    exp_dir, printed = peaked_sweep
    best_id = _trial_of(exp_dir, 0)  # 0.95 at epoch 2, then 0.65: best by its best epoch, worst by its last

    # run's summary: first row of its top table is curve 0 with 0.95 at epoch 2
    top = printed[printed.index("top 5 by best val_accuracy"):].splitlines()
    assert top[1].split()[:4] == ["trial_id", "best_val_accuracy", "best_epoch", "last_val_accuracy"]
    assert top[2].split()[:4] == [best_id, "0.95", "2", "0.65"]

    # table (default order), and its caption on stderr
    rows = pd.read_csv(io.StringIO(_table(exp_dir, "--format", "csv")))
    assert str(rows["trial_id"].iloc[0]) == best_id and rows["best_val_accuracy"].iloc[0] == 0.95
    md = _table(exp_dir)
    assert md.splitlines()[2].split("|")[1].strip() == best_id
    assert "best_val_accuracy = each trial's best epoch's value" in capsys.readouterr().err

    # best
    out = tmp_path / "best.yaml"
    assert main(["best", str(exp_dir), "-o", str(out)]) == 0
    best = yaml.safe_load(out.read_text())
    assert best["best"]["trial_id"] == best_id and best["best"]["value"] == 0.95 and best["best"]["epoch"] == 2
    assert best["config"]["curve"] == 0

    # report: the best trial's table and the trials table's first row
    report = tmp_path / "report.html"
    assert main(["report", str(exp_dir), "-o", str(report)]) == 0
    html = report.read_text()
    assert re.search(rf"<th>trial</th><td>{best_id}</td>", html)
    first_row = html[html.index("<h2>Trials"):].split("<tbody>")[1].split("</tr>")[0]
    assert f"<td>{best_id}</td>" in first_row and "<td>0.95</td>" in first_row


def test_last_ranks_by_the_last_epoch(peaked_sweep, capsys):
    exp_dir, _ = peaked_sweep
    rows = pd.read_csv(io.StringIO(_table(exp_dir, "--format", "csv", "--last")))
    assert list(rows["config/curve"]) == [2, 1, 0]
    assert list(rows["last_val_accuracy"]) == [0.9, 0.83, 0.65]
    assert main(["table", str(exp_dir), "--last", "--sort", "wall_s"]) == 2


def test_compare_agrees(ray_local, tmp_path):
    from hwk4tune.compare import run_compare
    from hwk4tune.spec import load_compare

    shutil.copytree(PEAKED, tmp_path / "peaked")
    (tmp_path / "peaked" / "compare.yaml").write_text(
        "space: space.yaml\nbudget: {num_samples: 1}\nseeds: [0]\nmax_concurrent_trials: 1\n"
        "strategies:\n  grid+fifo: {searcher: grid, scheduler: fifo}\n")
    c = run_compare(load_compare(tmp_path / "peaked" / "compare.yaml"), tmp_path / "cmp", verbose=False)
    assert float(c.summary["best_mean"].iloc[0]) == 0.95
    _, exp = c.best()
    assert exp.best()["best_epoch"] == 2 and exp.best_config()["curve"] == 0


def test_run_summary_counts_what_asha_stopped(ray_local, tmp_path):
    """Grid order, one trial at a time, ASHA with rungs at epochs 1, 2 and 4 (grace 1, rf 2: a trial stops when
    below the median of what its rung recorded before it). Rung 1: curve 0 (0.80) is first, curve 1 (0.85)
    is above 0.80, curve 2 (0.70) is below the median 0.825 of 0.80 and 0.85: stopped after epoch 1. Rung 2:
    curve 0 records 0.95, curve 1's 0.93 is below it: stopped after epoch 2. Curve 0 runs all 4 epochs."""
    import contextlib
    import json

    from hwk4tune.spec import load_sweep
    from hwk4tune.sweep import run_sweep

    shutil.copytree(PEAKED, tmp_path / "peaked")
    sweep = tmp_path / "peaked" / "sweep.yaml"
    sweep.write_text(sweep.read_text().replace("scheduler: fifo",
                                               "scheduler: {name: asha, grace_period: 1, reduction_factor: 2}"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exp_dir = run_sweep(load_sweep(sweep), storage=str(tmp_path / "runs"), name="asha")
    from hwk4tune.results import load_experiment

    epochs = {}
    for trial in exp_dir.glob("trial_*"):
        rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines() if line.strip()]
        epochs[rows[0]["config"]["curve"]] = [r["epoch"] for r in rows]
    assert epochs == {0: [1, 2, 3, 4], 1: [1, 2], 2: [1]}
    assert load_experiment(exp_dir).counts()["stopped_early"] == 2
    assert "scheduler asha: stopped 2 of 3 trials early" in out.getvalue()
