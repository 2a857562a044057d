"""The discrete-event replay (hwk4tune.tune.simulated_replay) on the shipped Fashion-MNIST table: no Ray
started, the same decisions as the Ray-actor replay at concurrency 1, the same files on every run at any
concurrency, and simulated time made of the table's seconds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from hwk4tune.compare import FILES, load_comparison, run_compare
from hwk4tune.compare.plan import plan
from hwk4tune.replay import read_table
from hwk4tune.results import load_experiment
from hwk4tune.spec import load_compare

DECISIONS = Path(__file__).parent / "data" / "replay_decisions"
sys.path.insert(0, str(DECISIONS))
import make  # noqa: E402 - the compare file the recorded decisions were made with

TABLE = Path(__file__).resolve().parent.parent / "benchmarks" / "tables" / "fashion_mnist_12k.parquet"


@pytest.fixture(scope="module")
def table():
    return read_table(TABLE)


def _compare(out: Path, concurrency: int) -> Path:
    run_compare(load_compare(make.compare_yaml(out, concurrency)), out / "compare", verbose=False)
    return out / "compare"


@pytest.fixture(scope="module")
def at_1(tmp_path_factory) -> Path:
    return _compare(tmp_path_factory.mktemp("sim1"), 1)


@pytest.fixture(scope="module")
def at_4(tmp_path_factory) -> Path:
    return _compare(tmp_path_factory.mktemp("sim4"), 4)


def test_no_ray_is_started(tmp_path, table, monkeypatch):
    import ray

    def no_ray(*args, **kwargs):
        raise AssertionError("a simulated replay started Ray")

    monkeypatch.setattr(ray, "init", no_ray)
    _compare(tmp_path, 2)
    assert len(load_comparison(tmp_path / "compare").runs) == len(make.STRATEGIES)


def test_decisions_equal_the_ray_actor_replay_at_concurrency_1(at_1):
    """Same trials started, on the same curves, stopped or paused at the same epochs, as Ray Tune's own
    controller with Ray actors (recorded by tests/data/replay_decisions/make.py) for FIFO, ASHA (random and
    optuna), HyperBand and PBT."""
    want = json.loads((DECISIONS / "actor_replay.json").read_text())
    c = load_comparison(at_1)
    got = {label: make.decisions(exp.path) for (label, _seed), exp in sorted(c.experiments.items())}
    assert set(got) == set(want) == set(make.STRATEGIES)
    for label in want:
        assert got[label] == want[label], label
    assert sum(len(t["epochs"]) < 6 for t in got["random+hyperband"]) > 0  # HyperBand paused and stopped some
    assert sum(len(t["epochs"]) < 6 for t in got["random+asha"]) > 0


def test_two_runs_at_concurrency_4_write_the_same_files(at_4, tmp_path):
    again = _compare(tmp_path, 4)
    for name in (FILES["csv"], FILES["md"]):
        assert (at_4 / name).read_bytes() == (again / name).read_bytes(), name
    runs = [pd.read_csv(d / FILES["runs_csv"]).drop(columns=["wall_s", "experiment_dir"]) for d in (at_4, again)]
    pd.testing.assert_frame_equal(*runs)
    assert "wall_s_mean" not in pd.read_csv(at_4 / FILES["csv"])  # the machine's time is no result of a replay


def test_concurrency_changes_the_simulated_time_not_the_budget(at_1, at_4):
    one, four = (load_comparison(d).runs.set_index("strategy") for d in (at_1, at_4))
    assert (four.loc["random+fifo", "seconds"] < one.loc["random+fifo", "seconds"] / 2)
    assert one.loc["random+fifo", "epochs"] == four.loc["random+fifo", "epochs"] == 8 * 6


def _reports(run_dir: Path) -> pd.DataFrame:
    h = load_experiment(run_dir).history
    return h.sort_values(["trial_id", "training_iteration"], kind="mergesort")


@pytest.mark.parametrize("strategy", ["random+fifo", "random+asha", "random+hyperband"])
def test_time_stamps_are_the_tables_seconds_summed_along_each_path(at_4, table, strategy):
    """Each report's time_total_s is the trial's recorded epoch seconds summed; between two reports of a trial
    the simulated clock moved by the epoch's recorded seconds (FIFO, ASHA), or more (HyperBand: a trial paused
    at a milestone waits); never more than 4 epochs run at once."""
    h = _reports(at_4 / "runs" / f"{strategy}-seed3")
    waits = 0
    for _tid, rows in h.groupby("trial_id"):
        seconds = [table.curve(int(c))[int(e) - 1]["epoch_seconds"] for c, e in zip(rows["replayed_from"], rows["epoch"])]
        assert list(rows["epoch_seconds"]) == seconds
        assert rows["time_total_s"].tolist() == pytest.approx(pd.Series(seconds).cumsum().tolist(), rel=1e-12)
        steps = rows["simulated_s"].diff().to_numpy()[1:]
        secs = rows["epoch_seconds"].to_numpy()[1:]
        assert (steps >= secs - 1e-9).all()
        waits += int((steps > secs + 1e-9).sum())
        if strategy != "random+hyperband":
            assert steps == pytest.approx(secs, rel=1e-9, abs=1e-9)
    assert (waits > 0) == (strategy == "random+hyperband")
    busy = sorted([(s - e, 1) for s, e in zip(h["simulated_s"], h["epoch_seconds"])] +
                  [(s, -1) for s in h["simulated_s"]], key=lambda x: (x[0], x[1]))
    level = [0]
    for _t, d in busy:
        level.append(level[-1] + d)
    assert max(level) == 4


def test_hyperband_pauses_are_waits_that_free_the_worker(at_1):
    """At concurrency 1 the clock never runs two epochs at once: a paused trial's next epoch starts after
    other trials ran in between."""
    h = _reports(at_1 / "runs" / "random+hyperband-seed3")
    h = h.sort_values("simulated_s", kind="mergesort")
    starts = (h["simulated_s"] - h["epoch_seconds"]).to_numpy()
    assert (starts[1:] >= h["simulated_s"].to_numpy()[:-1] - 1e-9).all()
    per_trial = h.sort_values(["trial_id", "epoch"], kind="mergesort").groupby("trial_id")
    waited = [(g["simulated_s"].diff() - g["epoch_seconds"]).max() for _tid, g in per_trial]
    assert max(w for w in waited if pd.notna(w)) > 0  # some trial waited between two of its epochs
    assert h["simulated_s"].max() == pytest.approx(h["epoch_seconds"].sum(), rel=1e-12)  # one worker, never idle


def test_pbt_exploit_continues_at_the_donors_table_position(tmp_path, table):
    """Under PBT (4 at a time) an exploited trial's next epoch follows the epoch and the seconds of the donor's
    checkpoint, on the curve nearest to its new configuration."""
    from hwk4tune.tune.simulated_replay import simulate_sweep

    spec = load_compare(make.compare_yaml(tmp_path, 4))
    [r] = [r for r in plan(spec) if r.label == "random+pbt"]
    exp_dir = tmp_path / r.name
    exp_dir.mkdir()
    sim = simulate_sweep(r.sweep, table, r.name, str(exp_dir))
    positions = {(rep["epoch"], rep["time_total_s"]) for run in sim.runs.values() for rep in run.reports}
    exploits = 0
    for run in sim.runs.values():
        for before, after in zip(run.reports, run.reports[1:]):
            if after["iterations_since_restore"] != 1 or after["config"] == before["config"]:
                continue
            exploits += 1
            donor = (after["epoch"] - 1, after["time_total_s"] - after["time_this_iter_s"])
            assert any(e == donor[0] and t == pytest.approx(donor[1], rel=1e-12) for e, t in positions), donor
            assert after["replayed_from"] == table.nearest(after["config"])[0]
    assert exploits > 0
    assert (exp_dir / "pbt_global.txt").is_file()
    assert load_experiment(exp_dir).trials["perturbations"].sum() > 0
