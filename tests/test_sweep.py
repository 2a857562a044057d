"""Sweeps end to end on digits with tiny budgets, on the session's one Ray (real Ray, Optuna, HyperOpt)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hwk4tune.errors import InputError
from hwk4tune.results import load_experiment
from hwk4tune.spec import SpecError, load_sweep
from hwk4tune.store.records import METADATA_FILE, SPEC_FILE
from hwk4tune.sweep import load_saved_sweep, read_metadata, run_sweep

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 300}
max_epochs: %(epochs)d
space:
  optimizer: {%(cat)s: [sgd, adam]}
  lr: {loguniform: [1.0e-3, 0.1]}
  dropout: {uniform: [0.0, 0.5]}
  hidden: 32
  batch_size: 32
"""


def make_sweep(tmp_path: Path, body: str, *, epochs: int = 2, cat: str = "choice", space: str | None = None,
               concurrent: int = 2) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "space.yaml").write_text(space or SPACE % {"epochs": epochs, "cat": cat})
    path = tmp_path / "sweep.yaml"
    path.write_text(f"space: space.yaml\nmax_concurrent_trials: {concurrent}\n" + textwrap.dedent(body))
    return path


def run(tmp_path: Path, body: str, **kw) -> Path:
    spec = load_sweep(make_sweep(tmp_path, body, **kw))
    # the default output (Ray's progress table, the summary), as `hwk4tune run` prints it: it must never end a sweep
    return run_sweep(spec, storage=str(tmp_path / "runs"), name="exp")


def trial_results(exp: Path) -> dict[str, pd.DataFrame]:
    """trial id -> its result.json rows (one per reported epoch)."""
    out = {}
    for d in sorted(exp.glob("trial_*")):
        rows = [json.loads(line) for line in (d / "result.json").read_text().splitlines() if line.strip()]
        out[d.name.removeprefix("trial_")] = pd.DataFrame(rows)
    return out


def state(exp: Path) -> tuple[int, int]:
    """(trials TERMINATED, trials ERROR) from Tune's own experiment state."""
    from ray.tune import ExperimentAnalysis

    statuses = [t.status for t in ExperimentAnalysis(str(exp)).trials]
    return statuses.count("TERMINATED"), statuses.count("ERROR")


# random+fifo and random+asha also run in test_asha_stops_some_trials_early: here they are marked slow.
# The newest-versions subset (make test-latest) takes each searcher and each scheduler once.
NEWEST = {("grid", "fifo"), ("random", "asha"), ("optuna", "asha"), ("hyperopt", "fifo")}
MATRIX = [pytest.param(s, sch, id=f"{s}+{sch}", marks=[pytest.mark.slow] * (s == "random")
                       + [pytest.mark.newest] * ((s, sch) in NEWEST))
          for s in ("grid", "random", "optuna", "hyperopt") for sch in ("fifo", "asha")]


@pytest.mark.parametrize("searcher,scheduler", MATRIX)
def test_searcher_with_fifo_and_asha(ray_local, tmp_path, searcher, scheduler):
    grid = searcher == "grid"
    exp = run(tmp_path, f"searcher: {{name: {searcher}{', seed: 0' if not grid else ''}}}\n"
                        f"scheduler: {scheduler}\nnum_samples: {1 if grid else 3}\n",
              cat="grid" if grid else "choice")
    expected = 2 if grid else 3  # the grid: sgd, adam
    results = trial_results(exp)
    assert len(results) == expected
    assert state(exp) == (expected, 0)
    assert all(df["epoch"].tolist() == list(range(1, len(df) + 1)) for df in results.values())
    if scheduler == "fifo":
        assert all(len(df) == 2 for df in results.values())


def test_metadata_and_saved_spec(ray_local, tmp_path):
    path = make_sweep(tmp_path, "searcher: {name: random, seed: 7}\nscheduler: asha\nnum_samples: 2\n", epochs=1)
    spec = load_sweep(path)
    exp = run_sweep(spec, storage=str(tmp_path / "runs"), name="meta", verbose=False)
    assert exp == tmp_path / "runs" / "meta"
    meta = read_metadata(exp)
    assert meta.kind == "sweep" and meta.label == "random+asha" and meta.seed == 7
    assert (meta.metric, meta.mode, meta.max_epochs, meta.num_samples) == ("val_accuracy", "max", 1, 2)
    assert meta.trainable == "cnn" and meta.dataset.name == "digits"
    # the space in one on-disk form: the YAML DSL, as in sweep.yaml and the space file
    assert meta.space["space"]["lr"] == {"loguniform": [1e-3, 0.1]}
    assert meta.sweep_file == str(path.resolve())
    saved = load_saved_sweep(exp)  # the resolved sweep is a valid sweep file again
    assert saved.model_dump() == spec.model_dump()
    assert yaml.safe_load((exp / SPEC_FILE).read_text())["space"]["space"]["lr"] == {"loguniform": [1e-3, 0.1]}
    # a second sweep into the same folder would mix two experiments: refused, nothing touched
    before = sorted(p.name for p in exp.iterdir())
    with pytest.raises(InputError, match="already holds an experiment; finish it with `hwk4tune resume"):
        run_sweep(spec, storage=str(tmp_path / "runs"), name="meta", verbose=False)
    assert sorted(p.name for p in exp.iterdir()) == before


def test_default_name_and_storage(ray_local, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_sweep(make_sweep(tmp_path, "searcher: random\nnum_samples: 1\n", epochs=1))
    exp = run_sweep(spec, verbose=False)
    assert exp.parent == tmp_path / "runs" and exp.name.startswith("sweep-") and (exp / METADATA_FILE).exists()


def test_asha_stops_some_trials_early(ray_local, tmp_path):
    body = "searcher: {name: random, seed: 1}\nscheduler: %s\nnum_samples: 6\n"
    fifo = trial_results(run(tmp_path / "fifo", body % "fifo", epochs=3))
    asha = trial_results(run(tmp_path / "asha", body % "{name: asha, grace_period: 1, reduction_factor: 3}", epochs=3))
    fifo_epochs = sum(len(df) for df in fifo.values())
    asha_epochs = sum(len(df) for df in asha.values())
    assert fifo_epochs == 6 * 3
    assert len(asha) == 6 and asha_epochs < fifo_epochs
    assert any(len(df) < 3 for df in asha.values())


@pytest.mark.newest
@pytest.mark.parametrize("scheduler", ["hyperband", "median"])
def test_hyperband_and_median_run(ray_local, tmp_path, scheduler):
    exp = run(tmp_path, f"searcher: {{name: random, seed: 0}}\nscheduler: {scheduler}\nnum_samples: 4\n", epochs=3)
    assert len(trial_results(exp)) == 4
    assert state(exp) == (4, 0)


@pytest.mark.newest
def test_pbt_exploits_other_trials_checkpoints(ray_local, tmp_path, caplog):
    # the whole population trains at once (half a CPU each), so at every epoch the bottom half has peers
    # to clone: with two at a time, which trials overlap depended on the machine's load
    exp = run(tmp_path, "searcher: {name: random, seed: 0}\n"
                        "scheduler: {name: pbt, perturbation_interval: 1, quantile_fraction: 0.5, seed: 0}\n"
                        "resources_per_trial: {cpu: 0.5}\n"
                        "num_samples: 4\n", epochs=8, concurrent=4)
    results = trial_results(exp)
    assert len(results) == 4 and state(exp) == (4, 0)
    # PBT's own record: pbt_policy_<trial id>.txt for every trial that took another trial's checkpoint,
    # one line per exploit: [its tag, the source's tag, iterations, old config, new config]
    exploiters = {f.stem.removeprefix("pbt_policy_") for f in exp.glob("pbt_policy_*.txt")}
    assert exploiters, "no trial was restored from another trial's checkpoint"
    assert exploiters <= set(results)
    # and the results of an exploiting trial show its hyperparameters changing mid-run
    # and an exploit changed hyperparameters: each policy line ends with the config before and after it
    # (not the results' configs: Ray rewrites an exploiting trial's result.json from the clone on)
    lines = [json.loads(line) for f in exp.glob("pbt_policy_*.txt") for line in f.read_text().splitlines() if line]
    assert any(line[-2] != line[-1] for line in lines), lines
    # every report of every trial kept: Ray's loggers dropped those since their last copy to storage when an
    # exploit restarted a trial (hwk4tune.tune.result_files). A trial's reports run from iteration 1 to 8
    # (an exploit jumps to its clone's iteration) and restart (iterations_since_restore 1) at least once
    # per exploit; the table counts each exploit of PBT's own record once
    table = load_experiment(exp).trials.set_index("trial_id")
    for trial_id, df in results.items():
        iterations = list(df["training_iteration"])
        assert iterations[0] == 1 and iterations[-1] == 8, iterations
        restarts = int((df["iterations_since_restore"] == 1).sum()) - 1
        assert restarts >= table.loc[trial_id, "perturbations"], (trial_id, iterations)
    assert table["perturbations"].sum() == len((exp / "pbt_global.txt").read_text().splitlines()) >= 1
    # no checkpoint deleted under another's feet (hwk4tune.sweep.run._checkpoint_config): Tune logged a
    # traceback for each, and every checkpoint a report names is still on disk
    assert not [r for r in caplog.records if "Error handling checkpoint" in r.getMessage()]
    for trial_id, df in results.items():
        assert all((exp / f"trial_{trial_id}" / name).is_dir() for name in df["checkpoint_dir_name"]), trial_id
    # every perturbed value stayed inside the space (Ray's 0.8 / 1.2 factors are clipped by us)
    for df in results.values():
        for config in df["config"]:
            assert 1e-3 <= config["lr"] <= 0.1 and 0.0 <= config["dropout"] <= 0.5, config


@pytest.mark.newest
def test_pb2_runs(ray_local, tmp_path):
    exp = run(tmp_path, "searcher: {name: random, seed: 0}\n"
                        "scheduler: {name: pb2, perturbation_interval: 1, hyperparam_bounds: {lr: [0.001, 0.1]}}\n"
                        "num_samples: 3\n", epochs=3)
    assert len(trial_results(exp)) == 3 and state(exp) == (3, 0)


def test_failing_trials_end_as_errors_and_the_sweep_goes_on(ray_local, tmp_path):
    # valid values (a bad one is refused at load) whose model cannot be built: 2**40 hidden units need
    # petabytes of weights, so those trials raise when they start
    space = SPACE % {"epochs": 1, "cat": "grid"}
    space = space.replace("hidden: 32", "hidden: {grid: [32, 1099511627776]}")
    space = space.replace("lr: {loguniform: [1.0e-3, 0.1]}", "lr: 0.01").replace("dropout: {uniform: [0.0, 0.5]}", "")
    exp = run(tmp_path, "searcher: grid\nnum_samples: 1\nmax_failures: 0\n", space=space)
    assert state(exp) == (2, 2)
    errors = sorted(exp.glob("trial_*/error.txt"))
    assert len(errors) == 2 and all("allocate" in e.read_text() for e in errors)


def test_resources_beyond_the_machine_refused(ray_local, tmp_path):
    """One GPU more than this machine's Ray has (0 on a CPU machine, 1 on a one-GPU one) is refused before any
    trial starts: such a trial would wait for ever."""
    gpus = ray_local.cluster_resources().get("GPU", 0)
    spec = load_sweep(make_sweep(tmp_path, f"searcher: random\nresources_per_trial: {{cpu: 1, gpu: {gpus + 1:g}}}\n"))
    with pytest.raises(SpecError, match=rf"resources_per_trial.gpu: each trial asks for {gpus + 1:g} gpu, but this "
                                        rf"machine's Ray has {gpus:g}"):
        run_sweep(spec, storage=str(tmp_path / "runs"), name="gpu", verbose=False)
    assert not (tmp_path / "runs" / "gpu").exists() or not any((tmp_path / "runs" / "gpu").glob("trial_*"))


def test_early_stop_tracebacks_hidden_and_real_errors_kept():
    import io

    from hwk4tune.tune.console import QuietStream

    pre = "\x1b[36m(hwk4tune.exp pid=7)\x1b[0m "
    out = io.StringIO()
    quiet = QuietStream(out)
    quiet.write(f"{pre}Traceback (most recent call last):\n{pre}  File \"x.py\", line 1\n"
                "(other pid=8) interleaved\n"
                f"{pre}SystemExit: 1\n{pre}Checkpoint successfully created at: here\n"
                "Traceback (most recent call last):\n  File \"y.py\"\nValueError: real\n")
    quiet.close_out()
    assert out.getvalue() == "(other pid=8) interleaved\nTraceback (most recent call last):\n  File \"y.py\"\nValueError: real\n"
    assert quiet.hidden == 1
