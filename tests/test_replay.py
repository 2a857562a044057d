"""Recorded tables and replayed comparisons: a table recorded here (digits, 3 configurations x 2 epochs),
a live comparison on the same seed, and its replays (simulated: hwk4tune.tune.simulated_replay) through the
real searchers and schedulers. The simulation itself: tests/test_simulated_replay.py."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hwk4tune.compare import FILES, load_comparison, run_compare
from hwk4tune.replay import read_table, write_table
from hwk4tune.results import load_experiment
from hwk4tune.spec import SpecError, load_compare, load_space

SPACE = {"trainable": "cnn", "dataset": {"name": "digits", "subset": 300}, "metric": "val_accuracy", "mode": "max",
         "max_epochs": 2, "space": {"optimizer": "adam", "hidden": 32, "lr": {"loguniform": [1.0e-3, 3.0e-2]},
                                    "batch_size": {"choice": [32, 64]}}}


def _compare(root: Path, replay: bool, strategies: dict | None = None, name: str = "compare.yaml") -> Path:
    data = {"space": "space.yaml", "budget": {"num_samples": 3}, "seeds": [0], "max_concurrent_trials": 1,
            "strategies": strategies or {"random+fifo": {"searcher": "random", "scheduler": "fifo"}}}
    if replay:
        data.update(replay="table.parquet")
    (root / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return root / name


@pytest.fixture(scope="module")
def recorded(ray_local, tmp_path_factory) -> Path:
    from hwk4tune.sweep.record import record

    root = tmp_path_factory.mktemp("replay")
    (root / "space.yaml").write_text(yaml.safe_dump(SPACE))
    record(load_space(root / "space.yaml"), 3, 0, root / "table.parquet", max_concurrent=2, verbose=False)
    return root


@pytest.fixture(scope="module")
def live(recorded) -> Path:
    run_compare(load_compare(_compare(recorded, False, name="live.yaml")), recorded / "live", verbose=False)
    return recorded / "live"


def _history(out: Path) -> pd.DataFrame:
    [run] = sorted((out / "runs").iterdir())
    return load_experiment(run).history


def test_the_table_has_a_row_per_configuration_and_epoch(recorded):
    t = read_table(recorded / "table.parquet")
    assert len(t.frame) == 6 and sorted(t.frame["epoch"].unique()) == [1, 2]
    assert {"config/lr", "config/batch_size", "val_accuracy", "epoch_seconds"} <= set(t.frame.columns)
    assert t.meta["space"]["space"]["lr"] == {"loguniform": [1.0e-3, 3.0e-2]}
    assert t.meta["configs"] == 3 and t.meta["device"] == "cpu" and "torch" in t.meta["versions"]
    for i, config in enumerate(t.configs):
        assert t.nearest(config) == (i, 0.0)  # a recorded configuration replays its own curve


def test_fifo_replay_of_the_recorded_configurations_reproduces_their_curves(recorded):
    table = read_table(recorded / "table.parquet")
    run_compare(load_compare(_compare(recorded, True)), recorded / "fifo", verbose=False)
    h = _history(recorded / "fifo")
    assert len(h) == 6 and (h["replay_distance"] == 0).all()
    for _, row in h.iterrows():
        want = table.curve(int(row["replayed_from"]))[int(row["epoch"]) - 1]
        for m in ("val_accuracy", "val_loss", "train_loss", "epoch_seconds"):
            assert row[m] == want[m], (m, row[m], want[m])


def test_a_replayed_comparison_is_reproducible(recorded):
    strategies = {"random+asha": {"searcher": "random", "scheduler": {"name": "asha", "grace_period": 1}},
                  "optuna+fifo": {"searcher": "optuna", "scheduler": "fifo"}}
    tables = []
    for out in ("again1", "again2"):
        run_compare(load_compare(_compare(recorded, True, strategies, "again.yaml")), recorded / out, verbose=False)
        runs = pd.read_csv(recorded / out / FILES["runs_csv"]).drop(columns=["wall_s", "experiment_dir"])
        tables.append(((recorded / out / FILES["csv"]).read_bytes(), (recorded / out / FILES["md"]).read_bytes(), runs))
    assert tables[0][:2] == tables[1][:2]  # comparison.csv and comparison.md, byte for byte
    pd.testing.assert_frame_equal(tables[0][2], tables[1][2])
    c = load_comparison(recorded / "again1")
    assert c.replayed and (c.runs["seconds"] > 0).all()  # simulated seconds from the recorded ones
    assert "## Verdicts" in (recorded / "again1" / FILES["md"]).read_text()


def test_live_comparison_and_its_replay_agree_on_the_best_configurations(recorded, live):
    run_compare(load_compare(_compare(recorded, True, name="replay.yaml")), recorded / "replayed", verbose=False)
    live_best = load_comparison(live).best()[1]
    replay_best = load_comparison(recorded / "replayed").best()[1]
    assert live_best.best_config()["lr"] == replay_best.best_config()["lr"]
    lv, rp = _history(live), _history(recorded / "replayed")
    by_lr = lambda h: h.groupby(h["trial_id"])["val_accuracy"].max().sort_values()  # noqa: E731
    assert math.isclose(by_lr(lv).iloc[-1], by_lr(rp).iloc[-1])
    assert len(lv) == len(rp) == 6


# ------------------------------------------------------------------------------------------ refused before any trial


def _tiny_table(path: Path) -> None:
    space = {"trainable": "cnn", "dataset": {"name": "digits", "subset": 300, "val_fraction": 0.1, "seed": 0},
             "metric": "val_accuracy", "mode": "max", "max_epochs": 2,
             "space": {"optimizer": "adam", "lr": {"loguniform": [1.0e-3, 3.0e-2]}, "seed": 0}}
    frame = pd.DataFrame({"config_id": [0, 0], "trial_id": ["t0", "t0"], "epoch": [1, 2], "config/optimizer": "adam",
                          "config/lr": [0.01, 0.01], "config/seed": [0, 0], "val_accuracy": [0.5, 0.6],
                          "epoch_seconds": [1.0, 1.0]})
    write_table(frame, {"space": space, "metrics": ["val_accuracy", "epoch_seconds"], "epochs": 2}, path)


def test_a_space_outside_the_table_is_refused_with_one_line(tmp_path, root):
    _tiny_table(tmp_path / "table.parquet")
    space = {**SPACE, "space": {"optimizer": "adam", "lr": {"loguniform": [1.0e-4, 3.0e-2]}}}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    compare = _compare(tmp_path, True)
    with pytest.raises(SpecError) as err:
        load_compare(compare)
    [problem] = err.value.problems
    assert problem.key == "replay" and "'lr'" in problem.message and "outside the recorded one" in problem.message
    done = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "validate", str(compare)], capture_output=True,
                          text=True, cwd=root)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{compare}:") and "replay:" in lines[0], done.stderr


def test_a_parameter_the_table_lacks_is_refused(tmp_path):
    _tiny_table(tmp_path / "table.parquet")
    space = {**SPACE, "space": {"optimizer": "adam", "lr": {"loguniform": [1.0e-3, 3.0e-2]},
                                "batch_size": {"choice": [32, 64]}}}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    with pytest.raises(SpecError) as err:
        load_compare(_compare(tmp_path, True))
    [problem] = err.value.problems
    assert "'batch_size' is not in the table" in problem.message


def test_the_demo_replay_file_matches_its_shipped_table(root):
    spec = load_compare(root / "launch" / "demo_replay.yaml")
    assert spec.replay == root / "benchmarks" / "tables" / "fashion_mnist_12k.parquet" and len(spec.seeds) >= 10
    assert list(spec.strategies) == ["random+fifo", "random+asha", "optuna+asha", "hyperopt+hyperband", "random+pbt"]
    for name in ("digits.parquet", "fashion_mnist_12k.parquet"):
        path = root / "benchmarks" / "tables" / name
        assert path.stat().st_size < 5_000_000
        assert read_table(path).meta["versions"]["ray"].startswith("2.60")
    table = read_table(root / "benchmarks" / "tables" / "fashion_mnist_12k.parquet")  # what the issue asks
    assert len(table.configs) >= 128 and table.epochs >= 12
    assert {k: table.meta["dataset"][k] for k in ("name", "subset", "val_fraction")} == {"name": "fashion_mnist", "subset": 15000, "val_fraction": 0.2}


def test_nearest_is_scikit_learns_nearest_neighbour(root):
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from hwk4tune.replay.table import encode

    t = read_table(root / "benchmarks" / "tables" / "fashion_mnist_12k.parquet")
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(t.points)
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = {name: p.values[rng.integers(len(p.values))] if p.is_categorical else
                  float(np.exp(rng.uniform(*np.log(p.bounds))) if p.log else rng.uniform(*p.bounds))
                  for name, p in t.params.items()}
        i, d = t.nearest(config)
        dist, idx = nn.kneighbors(encode(t.params, [config]))
        assert i == int(idx[0][0]) and math.isclose(d, float(dist[0][0]), abs_tol=1e-6)  # sklearn rounds 0 to ~1e-8
