"""`compare`: strategies x seeds on digits under one budget, the files it writes, and --resume."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from results_fixtures import COMPARE, compare_file, small_comparison

from hwk4tune.cli import main
from hwk4tune.compare import FILES, iqm, load_comparison, plan
from hwk4tune.spec import load_compare
from hwk4tune.store.records import PLAN_FILE, RUN_FILE


@pytest.fixture(scope="module")
def compared(ray_local, tmp_path_factory) -> Path:
    return small_comparison(tmp_path_factory)


def test_plan_is_the_cross_product_with_seeded_strategies(tmp_path):
    spec = load_compare(compare_file(tmp_path))
    runs = plan(spec)
    assert [(r.label, r.seed) for r in runs] == [("random+fifo", 0), ("random+fifo", 1),
                                                    ("random+asha", 0), ("random+asha", 1)]
    for r in runs:
        assert r.sweep.searcher.seed == r.seed
        assert r.sweep.space.space.tree["seed"] == r.seed  # every trial of the run starts from the run's seed
        assert r.sweep.num_samples == 6 and r.sweep.space.max_epochs == 3 and r.sweep.max_concurrent_trials == 2
    assert len({r.name for r in runs}) == 4


def test_iqm():
    assert iqm([1, 2, 3, 4]) == 2.5
    assert iqm([0, 10, 10, 10, 10, 10, 10, 100]) == 10
    assert math.isnan(iqm([]))


def test_compare_writes_every_file(compared):
    for name in FILES.values():
        assert (compared / name).is_file() and (compared / name).stat().st_size > 0, name
    for png in (FILES["epochs_png"], FILES["wall_png"]):
        assert (compared / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(compared / FILES["csv"])
    assert list(summary["strategy"]) == ["random+fifo", "random+asha"]
    for col in ("best_mean", "best_std", "best_iqm", "epochs_total", "wall_s_mean", "trials_started",
                "trials_stopped_early", "trials_errored", "epochs_to_target", "seconds_to_target", "mean_rank",
                "mean_rank_anytime"):
        assert col in summary, col
    assert (summary["trials_started"] == 12).all() and (summary["trials_errored"] == 0).all()
    md = (compared / FILES["md"]).read_text()
    assert "random+fifo" in md and "random+asha" in md and "target" in md
    runs = pd.read_csv(compared / FILES["runs_csv"])
    assert len(runs) == 4 and set(runs["seed"]) == {0, 1}


def test_runs_are_found_by_their_metadata(compared):
    record = json.loads((compared / PLAN_FILE).read_text())
    assert record["kind"] == "compare" and len(record["runs"]) == 4
    for run in record["runs"]:
        exp_dir = compared / "runs" / run["name"]
        meta = json.loads((exp_dir / RUN_FILE).read_text())
        assert (meta["label"], meta["seed"], meta["status"]) == (run["label"], run["seed"], "done")
        sweep_meta = json.loads((exp_dir / "hwk4tune.json").read_text())
        assert sweep_meta["seed"] == run["seed"] and sweep_meta["num_samples"] == 6
        assert sweep_meta["label"] == run["label"]


def test_asha_consumes_fewer_epochs_than_fifo(compared):
    summary = load_comparison(compared).summary.set_index("strategy")
    assert summary.loc["random+fifo", "epochs_total"] == 2 * 6 * 3  # fifo trains every trial to the end
    assert summary.loc["random+asha", "epochs_total"] < summary.loc["random+fifo", "epochs_total"]
    assert summary.loc["random+asha", "trials_stopped_early"] > 0


def test_curves_are_monotone(compared):
    c = load_comparison(compared)
    for key, exp in c.experiments.items():
        best = exp.curve()["best"].dropna().to_numpy()
        assert np.all(np.diff(best) >= 0), key
    for x in ("epochs", "elapsed_s"):
        grid, bands = c.band(x)
        assert np.all(np.diff(grid) > 0)
        for strategy, (mean, lo, hi) in bands.items():
            shown = mean[~np.isnan(mean)]
            assert shown.size and np.all(np.diff(shown) >= -1e-12), (x, strategy)
            ok = ~np.isnan(mean)
            assert np.all(lo[ok] <= mean[ok] + 1e-12) and np.all(hi[ok] >= mean[ok] - 1e-12)  # a 95 % band
    ranks = c.summary["mean_rank"]
    assert ranks.between(1, 2).all() and math.isclose(ranks.sum(), 3.0)


def test_resume_runs_only_what_was_interrupted(compared, tmp_path, capsys):
    """An interrupted comparison (one run killed mid-way: run.json 'running', a half-written folder) is
    resumed: the finished pairs keep their files untouched, the interrupted one is run again."""
    out = tmp_path / "out"
    shutil.copytree(compared, out)
    victim = out / "runs" / "random+asha-seed1"
    meta = json.loads((victim / RUN_FILE).read_text())
    meta.update(status="running")
    meta.pop("finished", None)
    (victim / RUN_FILE).write_text(json.dumps(meta))
    for f in victim.glob("experiment_state-*.json"):
        f.unlink()
    before = {}
    for d in (out / "runs").iterdir():
        if d != victim:
            before[d.name] = (json.loads((d / RUN_FILE).read_text()),
                              {f.name: f.stat().st_mtime_ns for f in d.glob("experiment_state-*.json")})
    spec_path = compare_file(tmp_path)
    # without --resume, an existing comparison is refused
    assert main(["compare", str(spec_path), "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["compare", str(spec_path), "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "random+asha-seed1" in printed and "comparison.md" in printed
    for name, (run_meta, states) in before.items():
        d = out / "runs" / name
        assert json.loads((d / RUN_FILE).read_text()) == run_meta, name  # same start and end: not re-run
        assert {f.name: f.stat().st_mtime_ns for f in d.glob("experiment_state-*.json")} == states, name
    again = json.loads((victim / RUN_FILE).read_text())
    assert again["status"] == "done" and again["started_unix"] > meta["started_unix"]
    assert len(load_comparison(out).experiments) == 4


def test_resume_refuses_another_comparison(compared, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(compared, out, ignore=shutil.ignore_patterns("runs"))
    spec_path = compare_file(tmp_path)
    spec_path.write_text(spec_path.read_text().replace("num_samples: 6", "num_samples: 7"))
    assert main(["compare", str(spec_path), "--out", str(out), "--resume"]) == 2
    assert "another space, budget or strategies" in capsys.readouterr().err


def test_compare_refuses_bad_pairing_before_ray(tmp_path, capsys):
    bad = dict(COMPARE, strategies={"optuna+fifo": {"searcher": "optuna", "scheduler": "fifo"}})
    bad["space"] = dict(COMPARE["space"], space={"lr": {"grid": [0.01, 0.1]}})
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert main(["compare", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "grid" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_strategies_with_the_same_searcher_and_scheduler_keep_their_labels(ray_local, tmp_path, capsys):
    """Two ASHA settings of random search: their labels, not a derived random+asha, in hwk4tune.json, in
    run.json and in `table OUT/runs/*`."""
    import yaml

    small = dict(COMPARE, budget={"num_samples": 2, "max_epochs": 2}, seeds=[0], strategies={
        "asha-rf2": {"searcher": "random", "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2}},
        "asha-rf4": {"searcher": "random", "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 4}},
    })
    path = tmp_path / "labels.yaml"
    path.write_text(yaml.safe_dump(small))
    assert main(["compare", str(path), "--out", str(tmp_path / "out")]) == 0
    runs = sorted((tmp_path / "out" / "runs").iterdir())
    assert [json.loads((d / "hwk4tune.json").read_text())["label"] for d in runs] == ["asha-rf2", "asha-rf4"]
    assert [json.loads((d / RUN_FILE).read_text())["label"] for d in runs] == ["asha-rf2", "asha-rf4"]
    capsys.readouterr()
    assert main(["table", *map(str, runs), "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert sorted(set(table["strategy"])) == ["asha-rf2", "asha-rf4"] and len(table) == 4
    assert list(load_comparison(tmp_path / "out").summary["strategy"]) == ["asha-rf2", "asha-rf4"]
