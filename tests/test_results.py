"""Tables from a real small sweep (digits, 3 trials of 2 epochs, one that fails), `table` and `best`."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from results_fixtures import HUGE, small_sweep

from hwk4tune.cli import main
from hwk4tune.results import ResultsError, best_yaml, format_table, load_experiment, sort_trials


@pytest.fixture(scope="module")
def sweep_dir(ray_local, tmp_path_factory) -> Path:
    return small_sweep(tmp_path_factory)


@pytest.fixture(scope="module")
def exp(sweep_dir):
    return load_experiment(sweep_dir)


def test_trials_table_rows_and_columns(exp):
    t = exp.trials
    assert len(t) == 3
    assert sorted(t["status"]) == ["ERROR", "TERMINATED", "TERMINATED"]
    for col in ("experiment", "strategy", "seed", "trial_id", "status", "epochs", "best_val_accuracy",
                "best_epoch", "last_val_accuracy", "last_val_loss", "wall_s", "error", "checkpoint",
                "config/lr", "config/hidden", "config/optimizer"):
        assert col in t, col
    ok = t[t["status"] == "TERMINATED"]
    assert list(ok["epochs"]) == [2, 2]
    h = exp.history
    for _, row in ok.iterrows():  # each figure is the trial's own rows': its best epoch's, its last's, its time
        mine = h[h["trial_id"] == row["trial_id"]].sort_values("epoch")
        assert row["best_val_accuracy"] == mine["val_accuracy"].max()
        assert mine.loc[mine["epoch"] == row["best_epoch"], "val_accuracy"].item() == row["best_val_accuracy"]
        assert row["last_val_accuracy"] == mine["val_accuracy"].iloc[-1]
        assert row["last_val_loss"] == mine["val_loss"].iloc[-1]
        assert row["wall_s"] == mine["time_total_s"].iloc[-1] > 0
    assert ok["error"].isna().all()
    assert set(t["config/hidden"]) == {32, 64, HUGE} and set(t["config/lr"]) == {0.003}
    assert exp.record.label == "grid+fifo" and exp.metric == "val_accuracy" and exp.mode == "max"
    assert set(t["strategy"]) == {"grid+fifo"}


def test_errored_trial_shows_its_error(exp):
    bad = exp.trials[exp.trials["status"] == "ERROR"].iloc[0]
    assert bad["config/hidden"] == HUGE
    assert "allocate" in bad["error"] and "Traceback" not in bad["error"]
    assert bad["epochs"] == 0 and pd.isna(bad["best_val_accuracy"])
    assert exp.counts()["ERROR"] == 1


def test_history_one_row_per_trial_epoch(exp):
    h = exp.history
    assert len(h) == 4  # 2 trials x 2 epochs; the errored one reported nothing
    assert {"trial_id", "epoch", "training_iteration", "val_accuracy", "val_loss", "train_loss",
            "epoch_seconds", "elapsed_s"} <= set(h.columns)
    assert h.groupby("trial_id")["epoch"].apply(list).map(lambda e: e == [1, 2]).all()
    assert h["elapsed_s"].is_monotonic_increasing
    # seconds since the experiment began: at least the trial's own training time (less the up to 1 s a
    # whole-second timestamp loses), and growing with each epoch of a trial
    assert (h["elapsed_s"] >= h["time_total_s"] - 1.0).all(), h[["elapsed_s", "time_total_s"]]
    assert h.groupby("trial_id")["elapsed_s"].apply(lambda e: e.is_monotonic_increasing and e.is_unique).all()
    curve = exp.curve()
    assert list(curve["epochs"]) == [1, 2, 3, 4] and curve["best"].is_monotonic_increasing


def test_formats(exp):
    t = exp.trials
    md = format_table(t[["trial_id", "status", "best_val_accuracy", "config/lr"]], "md")
    lines = md.strip().splitlines()
    assert len(lines) == 2 + 3 and lines[0].startswith("| trial_id") and " lr |" in lines[0]
    back = pd.read_csv(io.StringIO(format_table(t, "csv")))
    assert len(back) == 3 and list(back.columns) == list(t.columns)
    records = json.loads(format_table(t, "json"))
    assert len(records) == 3 and {r["status"] for r in records} == {"TERMINATED", "ERROR"}
    html = format_table(t, "html")
    assert html.count("<tr") == 4 and "<table" in html
    pq = pd.read_parquet(io.BytesIO(format_table(t, "parquet")))
    assert len(pq) == 3 and "config/lr" in pq
    with pytest.raises(ResultsError):
        format_table(t, "xlsx")


def test_table_cli(sweep_dir, tmp_path, capsys):
    assert main(["table", str(sweep_dir), "--top", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and "TERMINATED" in out[2]  # header, rule, the best trial
    target = tmp_path / "t.parquet"
    assert main(["table", str(sweep_dir), "--format", "parquet", "-o", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert len(pd.read_parquet(target)) == 3
    assert main(["table", str(sweep_dir), "--format", "csv", "--sort", "config/hidden:desc"]) == 0
    rows = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(rows["config/hidden"]) == [HUGE, 64, 32]
    assert main(["table", str(sweep_dir), "--history", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 4
    assert main(["table", str(tmp_path)]) == 2  # not an experiment
    assert main(["table", str(sweep_dir), "--sort", "nope"]) == 2
    assert main(["table", str(sweep_dir), "--format", "parquet"]) == 2  # binary needs -o
    capsys.readouterr()


def test_reads_without_ray_and_from_a_copy(sweep_dir, tmp_path):
    copy = tmp_path / "elsewhere" / "copied"
    shutil.copytree(sweep_dir, copy)
    code = ("import sys; from hwk4tune.results import load_experiment; "
            f"e = load_experiment({str(copy)!r}); "
            "print(len(e.trials), e.counts()['ERROR'], e.best()['checkpoint']); "
            "assert 'ray' not in sys.modules, 'results imported ray'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    n, errors, checkpoint = done.stdout.split()
    assert (n, errors) == ("3", "1")
    assert checkpoint.startswith(str(copy)) and Path(checkpoint).is_dir()


def test_result_grid_is_read_like_its_folder(sweep_dir, exp):
    from ray.tune import ExperimentAnalysis, ResultGrid

    grid = ResultGrid(ExperimentAnalysis(str(sweep_dir)))
    again = load_experiment(grid)
    assert list(again.trials["trial_id"]) == list(exp.trials["trial_id"])


def test_interrupted_experiment(sweep_dir, tmp_path):
    """What a driver killed mid-run leaves: Tune's state says RUNNING, result.json files lost or torn."""
    copy = tmp_path / "killed"
    shutil.copytree(sweep_dir, copy)
    state_file = sorted(copy.glob("experiment_state-*.json"))[-1]
    state = json.loads(state_file.read_text())
    for item in state["trial_data"]:
        info, run = json.loads(item[0]), json.loads(item[1])
        if info["status"] == "TERMINATED":  # as saved mid-run: running, its last report not the final one
            info["status"] = "RUNNING"
            run["last_result"]["done"] = False
        item[0], item[1] = json.dumps(info), json.dumps(run)
    state_file.write_text(json.dumps(state))
    ok = sorted(d for d in copy.iterdir() if d.is_dir() and (d / "result.json").stat().st_size > 0)
    (ok[0] / "result.json").write_text("")  # lost in the driver's buffer
    lines = (ok[1] / "result.json").read_text().splitlines()
    (ok[1] / "result.json").write_text(lines[0] + "\n" + lines[1][:40])  # torn last line
    for f in ok[1].glob("*"):
        if f.is_file() and f.name != "result.json":
            f.unlink()
    e = load_experiment(copy)
    by_dir = e.trials.set_index("trial_dir")
    # result.json lost: Tune's saved last result stands in for it (one report), and a note says so
    assert by_dir.loc[ok[0].name, "status"] == "RUNNING" and by_dir.loc[ok[0].name, "epochs"] == 1
    assert any(by_dir.loc[ok[0].name, "trial_id"] in note and "empty" in note for note in e.notes)
    # the torn line is skipped
    assert by_dir.loc[ok[1].name, "status"] == "RUNNING" and by_dir.loc[ok[1].name, "epochs"] == 1
    assert e.counts()["ERROR"] == 1 and e.counts()["TERMINATED"] == 0
    assert len(e.history) == 2 and e.best()["trial_dir"] in (ok[0].name, ok[1].name)


def test_best_tie_breaks(exp):
    t = exp.trials.copy()
    ok = t["status"] == "TERMINATED"
    t.loc[ok, "best_val_accuracy"] = 0.9
    t.loc[ok, "best_epoch"] = 2
    tied = type(exp)(path=exp.path, record=exp.record, metric=exp.metric, mode=exp.mode, trials=t,
                     history=exp.history, configs=exp.configs)
    ids = sorted(t.loc[ok, "trial_id"])
    assert tied.best()["trial_id"] == ids[0]  # same value, same epochs: the smaller trial id
    t.loc[t["trial_id"] == ids[1], "best_epoch"] = 1
    assert tied.best()["trial_id"] == ids[1]  # same value: fewer epochs first
    assert sort_trials(t, None, "max", "val_accuracy")["trial_id"].iloc[0] == ids[1]  # `table` agrees
    t.loc[t["trial_id"] == ids[0], "best_val_accuracy"] = 0.95
    assert tied.best()["trial_id"] == ids[0]  # the metric first
    assert sort_trials(t, "best_epoch", "max", "val_accuracy")["trial_id"].iloc[0] == ids[1]


def test_best_then_train_round_trip(sweep_dir, tmp_path, capsys):
    from hwk4tune.model.train import train_config

    target = tmp_path / "best.yaml"
    assert main(["best", str(sweep_dir), "-o", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    data = yaml.safe_load(target.read_text())
    assert data["trainable"] == "cnn" and data["dataset"]["name"] == "digits" and data["dataset"]["subset"] == 300
    assert data["config"]["lr"] == 0.003 and data["config"]["hidden"] in (32, 64)
    assert data["best"]["epoch"] in (1, 2) and data["epochs"] == data["best"]["epoch"]
    assert data["best"] == best_yaml(load_experiment(sweep_dir)).best.model_dump(mode="json")
    assert data["label"] == "grid+fifo" and data["config"] == load_experiment(sweep_dir).best_config()
    assert Path(data["best"]["checkpoint"]).is_dir()
    metrics = train_config(target, None, tmp_path / "model", progress=False)
    assert (tmp_path / "model" / "model.pt").is_file()
    assert metrics["epochs"] == data["best"]["epoch"]
    assert metrics["test_accuracy"] > 0.4  # 10 classes: chance is 0.1


def test_an_epoch_reported_again_after_a_resume_counts_once(tmp_path):
    """Ctrl-C between a report and its checkpoint: the resumed trial reports that epoch again."""
    from hwk4tune.results import load_experiment

    trial = tmp_path / "exp" / "trial_a"
    trial.mkdir(parents=True)
    (tmp_path / "exp" / "experiment_state-2026-01-01_00-00-00.json").write_text('{"trial_data": []}')
    rows = [{"trial_id": "a", "epoch": e, "training_iteration": e, "val_accuracy": v, "time_total_s": e}
            for e, v in [(1, 0.5), (2, 0.6), (3, 0.7), (3, 0.75), (4, 0.8)]]
    (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = load_experiment(tmp_path / "exp")
    assert exp.trials.loc[0, "epochs"] == 4
    assert list(exp.history["epoch"]) == [1, 2, 3, 4]
    assert exp.history.loc[exp.history["epoch"] == 3, "val_accuracy"].item() == 0.75  # the resumed run's


def test_a_trials_config_is_the_one_at_its_best_epoch(tmp_path):
    """PBT changes a trial's hyperparameters while it trains: the tables, best.yaml and the report show the
    config in force at the trial's best epoch, not the one it started with (params.json)."""
    from hwk4tune.report.page import build_report

    exp_dir = tmp_path / "exp"
    trial = exp_dir / "trial_a"
    trial.mkdir(parents=True)
    (exp_dir / "experiment_state-2026-01-01_00-00-00.json").write_text('{"trial_data": []}')
    (trial / "params.json").write_text(json.dumps({"lr": 0.1, "net": {"hidden": 32}}))
    rows = [{"trial_id": "a", "epoch": e, "training_iteration": e, "val_accuracy": v, "time_total_s": e,
             "config": {"lr": lr, "net": {"hidden": 32}}}
            for e, v, lr in [(1, 0.5, 0.1), (2, 0.9, 0.02), (3, 0.7, 0.004)]]
    (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp = load_experiment(exp_dir)
    assert exp.best_config() == {"lr": 0.02, "net": {"hidden": 32}}
    assert exp.trials.loc[0, "config/lr"] == 0.02 and exp.trials.loc[0, "config/net/hidden"] == 32
    _, page = build_report(exp_dir)
    shown = re.search(r'<pre class="config">(.*?)</pre>', page, re.S).group(1)
    assert yaml.safe_load(html.unescape(shown)) == {"lr": 0.02, "net": {"hidden": 32}}


def test_a_record_written_before_labels_still_reads(sweep_dir, tmp_path, capsys):
    """hwk4tune.json of an older version: `strategy` (the derived searcher+scheduler), no `label`."""
    copy = tmp_path / "old"
    shutil.copytree(sweep_dir, copy)
    record = json.loads((copy / "hwk4tune.json").read_text())
    record["strategy"] = record.pop("label")
    (copy / "hwk4tune.json").write_text(json.dumps(record))
    assert load_experiment(copy).record.label == "grid+fifo"
    record["surprise"] = 1  # an unknown key: one line naming the file, exit 2
    (copy / "hwk4tune.json").write_text(json.dumps(record))
    assert main(["table", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hwk4tune.json: surprise" in err[0], err
