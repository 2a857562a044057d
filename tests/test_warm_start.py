"""Warm start (issue 28): earlier experiments and recorded tables seed a new sweep's searcher.

Most tests work at the searcher level (no training): a recorded table written here is the earlier sweep. One
sweep runs on digits (grid, 1 epoch) for the end-to-end path, and its folder, copied into a local S3 server,
is read back through an ``s3://`` URI.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwk4tune.replay import write_table
from hwk4tune.results.warm_start import EarlierSource, EarlierTrial, plan_warm_start, read_source, warm_note
from hwk4tune.spec import SpecError, load_sweep

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 200}
max_epochs: 1
metric: val_accuracy
mode: max
space:
%s
  hidden: 16
  batch_size: 32
"""
PARAMS = """\
  optimizer: {choice: [sgd, adam]}
  lr: {loguniform: [1.0e-4, 0.1]}"""
EARLIER_SPACE = {"optimizer": {"choice": ["sgd", "adam"]}, "lr": {"loguniform": [1e-4, 0.1]}, "hidden": 16,
                 "batch_size": 32}


def _table(path: Path, configs: list[dict], values: list[float], *, metric="val_accuracy", mode="max",
           space: dict | None = None) -> Path:
    """A recorded table (as `hwk4tune record` writes it) of one epoch per config."""
    rows = [{"config_id": i, "trial_id": str(i), "epoch": 1, **{f"config/{k}": v for k, v in c.items()}, metric: y}
            for i, (c, y) in enumerate(zip(configs, values))]
    meta = {"space": {"trainable": "cnn", "dataset": {"name": "digits", "subset": 200}, "metric": metric,
                      "mode": mode, "max_epochs": 1, "space": space or EARLIER_SPACE}}
    return write_table(pd.DataFrame(rows), meta, path)


def _concentrated(n: int = 20, seed: int = 0) -> tuple[list[dict], list[float]]:
    """n earlier trials: the good half in one region (adam, lr in [0.03, 0.1], the best near lr = 0.05), the
    other half anywhere else (sgd, or lr below 0.01), poor."""
    rng = np.random.default_rng(seed)
    good = np.exp(rng.uniform(math.log(0.03), math.log(0.1), n - n // 2))
    configs = [{"optimizer": "adam", "lr": float(lr), "hidden": 16, "batch_size": 32} for lr in good]
    values = [float(0.95 - 0.2 * abs(math.log(lr / 0.05))) for lr in good]
    for i in range(n // 2):
        optimizer = "sgd" if i % 2 else "adam"
        lr = math.exp(rng.uniform(math.log(1e-4), math.log(0.1 if optimizer == "sgd" else 0.01)))
        configs.append({"optimizer": optimizer, "lr": float(lr), "hidden": 16, "batch_size": 32})
        values.append(float(rng.uniform(0.1, 0.4)))
    return configs, values


def _sweep(tmp_path: Path, searcher: str, warm: str | None, params: str = PARAMS, extra: str = "") -> Path:
    (tmp_path / "space.yaml").write_text(SPACE % params)
    body = f"space: space.yaml\nsearcher: {searcher}\nnum_samples: 4\n" + (f"warm_start: {warm}\n" if warm else "")
    (tmp_path / "sweep.yaml").write_text(body + extra)
    return tmp_path / "sweep.yaml"


def _first_suggestion(spec, plan) -> dict:
    from hwk4tune.tune.strategies import StrategyArgs, build_searcher, param_space

    searcher = build_searcher(StrategyArgs.from_sweep(spec, "warm-test", plan))
    searcher.set_search_properties(spec.space.metric, spec.space.mode, param_space(spec.space, spec.searcher))
    return searcher.suggest("t0")


# ------------------------------------------------------------------------------------------ the spec


def test_the_three_forms_and_unknown_keys(tmp_path):
    _table(tmp_path / "t.parquet", *_concentrated(2))
    for written, mode, top in [("t.parquet", "learn", None), ("[t.parquet, t.parquet]", "learn", None),
                               ("{from: t.parquet, top: 3, mode: evaluate}", "evaluate", 3)]:
        spec = load_sweep(_sweep(tmp_path, "optuna", written))
        assert spec.warm_start.mode == mode and spec.warm_start.top == top
        assert all(p == str(tmp_path / "t.parquet") for p in spec.warm_start.paths)  # relative to the file
    spec = load_sweep(_sweep(tmp_path, "random", "{from: t.parquet, mode: evaluate}"))
    assert spec.warm_start.top_k == 5
    with pytest.raises(SpecError) as e:
        load_sweep(_sweep(tmp_path, "optuna", "{from: t.parquet, topp: 3}"))
    assert len(e.value.problems) == 1 and "sweep.yaml:" in str(e.value) and "warm_start.topp" in str(e.value)
    with pytest.raises(SpecError, match=r"warm_start.mode: .*learn"):
        load_sweep(_sweep(tmp_path, "optuna", "{from: t.parquet, mode: learn-all}"))


def test_saved_sweep_round_trips_the_warm_start(tmp_path):
    from hwk4tune.spec import dump_yaml
    from hwk4tune.sweep.saved import resolved_sweep

    _table(tmp_path / "t.parquet", *_concentrated(2))
    spec = load_sweep(_sweep(tmp_path, "optuna", "{from: t.parquet, top: 2, mode: evaluate}"))
    saved = tmp_path / "saved" / "sweep.yaml"
    saved.parent.mkdir()
    saved.write_text(dump_yaml(resolved_sweep(spec)))
    assert load_sweep(saved).warm_start == spec.warm_start


# ------------------------------------------------------------------------------------------ mapping rules


def _source(configs: list[dict], values: list[float], **kw) -> EarlierSource:
    return EarlierSource(kw.get("path", "earlier"), kw.get("objectives", [("val_accuracy", "max")]), "cnn", "digits",
                         [EarlierTrial("earlier", str(i), c, (v,)) for i, (c, v) in enumerate(zip(configs, values))])


def test_mapping_a_narrowed_space(tmp_path):
    """Today: lr in [1e-3, 0.01], sgd only, no dropout range (dropped: removed), hidden constant 16."""
    earlier = [{"optimizer": "adam", "lr": 0.005, "dropout": 0.1, "hidden": 16},  # mapped: dropout removed
               {"optimizer": "adam", "lr": 0.05, "dropout": 0.1, "hidden": 16},   # lr outside
               {"optimizer": "sgd", "lr": 0.005, "dropout": 0.1, "hidden": 16},   # sgd outside
               {"optimizer": "adam", "lr": 0.002, "dropout": 0.1, "hidden": 32}]  # differs from constant 16
    earlier = [{**c, "batch_size": 32} for c in earlier]
    spec = load_sweep(_sweep(tmp_path, "optuna", "t.parquet", params="  optimizer: {choice: [adam]}\n"
                             "  lr: {loguniform: [1.0e-3, 0.01]}"))
    plan = plan_warm_start(spec, [_source(earlier, [0.9, 0.8, 0.7, 0.6])])
    assert plan.configs == [{"optimizer": "adam", "lr": 0.005}]
    assert (plan.total, plan.as_is, plan.n_mapped) == (4, 0, 1)
    assert plan.mapped == {"dropped hyperparameter dropout removed": 1}
    assert set(plan.left_out) == {"lr outside today's space (loguniform(0.001, 0.01))",
                                  "optimizer outside today's space (choice ['adam'])",
                                  "hidden differs from today's constant 16"}
    lines = plan.lines()
    assert lines[0] == "warm start (learn): 4 earlier trials: 0 used as they were, 1 mapped, 3 left out"
    assert len(lines) == 1 + 1 + 3  # one line per reason


def test_mapping_a_widened_space(tmp_path):
    """Today: a wider lr range and a new hyperparameter (dropout: its default 0.0 is inside the new range;
    weight_decay: its default 0 is outside [1e-5, 1e-3], so trials lacking it are left out)."""
    earlier = [{"optimizer": "adam", "lr": 0.05, "hidden": 16, "batch_size": 32},
               {"optimizer": "sgd", "lr": 0.001, "hidden": 16, "batch_size": 32}]
    spec = load_sweep(_sweep(tmp_path, "optuna", "t.parquet", params=PARAMS.replace("1.0e-4, 0.1", "1.0e-5, 1.0")
                             + "\n  dropout: {uniform: [0.0, 0.5]}"))
    plan = plan_warm_start(spec, [_source(earlier, [0.9, 0.5])])
    assert plan.configs == [{"optimizer": "adam", "lr": 0.05, "dropout": 0.0}, {"optimizer": "sgd", "lr": 0.001,
                                                                               "dropout": 0.0}]
    assert plan.mapped == {"new hyperparameter dropout takes its default 0.0": 2} and not plan.left_out
    spec = load_sweep(_sweep(tmp_path, "optuna", "t.parquet", params=PARAMS + "\n  weight_decay: "
                             "{loguniform: [1.0e-5, 1.0e-3]}"))
    plan = plan_warm_start(spec, [_source(earlier, [0.9, 0.5])])
    assert plan.configs == [] and plan.left_out == {
        "new hyperparameter weight_decay has no default inside today's space": 2}


def test_another_trainable_or_data_set_left_out_and_top_k(tmp_path):
    spec = load_sweep(_sweep(tmp_path, "optuna", "{from: t.parquet, top: 1}"))
    configs, values = _concentrated(3)
    other = _source(configs, values)
    other.dataset = "mnist"
    plan = plan_warm_start(spec, [other, _source(configs, values)])
    assert plan.left_out == {"another data set (mnist, today digits)": 3}
    assert len(plan.trials) == 1 and plan.trials[0].values[0] == max(values) and plan.beyond_top == 2
    assert plan.lines()[0].endswith("3 used as they were, 0 mapped, 3 left out; the best 1 of them used (top: 1)")


def test_another_metric_or_mode_is_refused(tmp_path):
    _table(tmp_path / "t.parquet", *_concentrated(2), metric="val_loss", mode="min")
    spec = load_sweep(_sweep(tmp_path, "optuna", "t.parquet"))
    with pytest.raises(SpecError) as e:
        plan_warm_start(spec)
    (line,) = str(e.value).splitlines()
    assert line.startswith(f"{tmp_path / 'sweep.yaml'}:") and ": warm_start.from: " in line
    assert "val_loss/min" in line and "val_accuracy/max" in line


def test_run_refuses_another_metric_with_exit_2_before_any_trial(tmp_path):
    """`hwk4tune run --warm-start TABLE`: one line, exit 2, no experiment folder."""
    _table(tmp_path / "loss.parquet", *_concentrated(2), metric="val_loss", mode="min")
    sweep = _sweep(tmp_path, "optuna", None)
    out = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "run", str(sweep), "--storage", str(tmp_path / "runs"),
                          "--warm-start", str(tmp_path / "loss.parquet")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if "warm_start" in line]
    assert len(errors) == 1 and "--warm-start" in errors[0] and "val_loss/min" in errors[0]
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------------------ the searchers


@pytest.mark.parametrize("searcher", ["optuna", "hyperopt"])
def test_first_suggestion_reflects_the_earlier_trials(tmp_path, searcher):
    """Given 20 earlier trials whose good half is concentrated in one region (adam, lr >= 0.03), the first
    suggestion lies near it (adam, lr >= 0.001: a third of the space) far more often than cold, same seeds."""
    _table(tmp_path / "t.parquet", *_concentrated(20))
    hits = {}
    for warm in (True, False):
        found = 0
        for seed in range(10):
            spec = load_sweep(_sweep(tmp_path, f"{{name: {searcher}, seed: {seed}}}", "t.parquet" if warm else None))
            s = _first_suggestion(spec, plan_warm_start(spec))
            found += s["optimizer"] == "adam" and s["lr"] >= 0.001
        hits[warm] = found
    assert hits[True] >= 8 and hits[True] >= hits[False] + 4, hits


def test_nevergrad_is_told_the_earlier_trials(tmp_path):
    """nevergrad: the earlier configs are asked and told first (not suggested to Tune), so the first suggestion
    is none of them and differs from the cold one of the same seed."""
    configs, _ = _concentrated(20)
    _table(tmp_path / "t.parquet", *_concentrated(20))
    firsts = {}
    for warm in (True, False):
        spec = load_sweep(_sweep(tmp_path, "{name: nevergrad, seed: 0}", "t.parquet" if warm else None))
        firsts[warm] = _first_suggestion(spec, plan_warm_start(spec))
    assert firsts[True] != firsts[False]
    assert all(firsts[True]["lr"] != c["lr"] for c in configs)


def test_optuna_study_holds_the_earlier_trials_several_objectives(tmp_path):
    """Several objectives (define-by-run): the earlier trials enter the study through add_trials."""
    import optuna

    from hwk4tune.tune.warm_start import optuna_study

    (tmp_path / "space.yaml").write_text((SPACE % PARAMS).replace("metric: val_accuracy\nmode: max\n", (
        "objectives: [{metric: val_accuracy, mode: max}, {metric: num_params, mode: min}]\n")))
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: {name: optuna, sampler: nsga2, seed: 0}\n"
                                         "warm_start: t.parquet\n")
    spec = load_sweep(tmp_path / "sweep.yaml")
    configs, values = _concentrated(4)
    source = EarlierSource("t", [("val_accuracy", "max"), ("num_params", "min")], "cnn", "digits",
                           [EarlierTrial("t", str(i), c, (v, 1000.0 + i)) for i, (c, v) in enumerate(zip(configs, values))])
    plan = plan_warm_start(spec, [source])
    storage = optuna_study(plan, spec.space, None, "mo")
    study = optuna.load_study(study_name="mo", storage=storage)
    assert [t.values for t in study.trials] == [list(t.values) for t in plan.trials]
    from hwk4tune.tune.strategies import StrategyArgs, build_searcher

    searcher = build_searcher(StrategyArgs.from_sweep(spec, "mo2", plan))
    assert searcher.suggest("t0")["optimizer"] in ("sgd", "adam")


@pytest.mark.parametrize("searcher", ["optuna", "hyperopt", "random"])
def test_evaluate_mode_runs_the_best_earlier_configs_first(tmp_path, searcher):
    configs, values = _concentrated(6)
    _table(tmp_path / "t.parquet", configs, values)
    spec = load_sweep(_sweep(tmp_path, f"{{name: {searcher}, seed: 0}}", "{from: t.parquet, top: 2, mode: evaluate}"))
    plan = plan_warm_start(spec)
    best = sorted(range(6), key=lambda i: -values[i])[:2]
    if searcher == "random":
        from hwk4tune.tune.strategies import StrategyArgs
        from hwk4tune.tune.warm_start import planned_with_warm_start

        planned = planned_with_warm_start(plan, spec.space.space, [{"x": i} for i in range(4)])
        assert [c["lr"] for c in planned[:2]] == [configs[i]["lr"] for i in best] and len(planned) == 4
        assert StrategyArgs.from_sweep(spec, "x", plan).warm is plan
        return
    from hwk4tune.tune.strategies import StrategyArgs, build_searcher, param_space

    s = build_searcher(StrategyArgs.from_sweep(spec, "ev", plan))
    s.set_search_properties("val_accuracy", "max", param_space(spec.space, spec.searcher))
    firsts = [s.suggest(f"t{i}") for i in range(2)]
    assert [f["lr"] for f in firsts] == pytest.approx([configs[i]["lr"] for i in best])


def test_grid_and_random_skip_evaluated_configs(tmp_path):
    from hwk4tune.tune.conditional_search import planned_configs
    from hwk4tune.tune.warm_start import planned_with_warm_start

    grid = "  optimizer: {grid: [sgd, adam]}\n  lr: {grid: [0.001, 0.01, 0.1]}"
    _table(tmp_path / "t.parquet", [{"optimizer": "adam", "lr": 0.01, "hidden": 16, "batch_size": 32},
                                    {"optimizer": "sgd", "lr": 0.1, "hidden": 16, "batch_size": 32}], [0.9, 0.5],
           space={"optimizer": {"grid": ["sgd", "adam"]}, "lr": {"grid": [0.001, 0.01, 0.1]}, "hidden": 16,
                  "batch_size": 32})
    for searcher in ("grid", "{name: random, seed: 0}"):
        spec = load_sweep(_sweep(tmp_path, searcher, "t.parquet", params=grid).parent / "sweep.yaml",
                          {"num_samples": 1})
        plan = plan_warm_start(spec)
        planned = planned_with_warm_start(plan, spec.space.space, planned_configs(spec.space.space, 1, 0))
        assert plan.skipped == 2 and len(planned) == 4
        assert {(c["optimizer"], c["lr"]) for c in planned} == {("sgd", 0.001), ("sgd", 0.01), ("adam", 0.001),
                                                                 ("adam", 0.1)}


# ------------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def warm_grid_sweep(ray_local, tmp_path_factory):
    """A grid sweep warm-started from a table holding 2 of its 4 configs: 2 trials run, 2 are skipped."""
    from hwk4tune.sweep import run_sweep

    tmp_path = tmp_path_factory.mktemp("warm_grid")
    _table(tmp_path / "t.parquet", [{"optimizer": "adam", "lr": 0.01, "hidden": 16, "batch_size": 32},
                                    {"optimizer": "sgd", "lr": 0.01, "hidden": 16, "batch_size": 32}], [0.9, 0.5])
    spec = load_sweep(_sweep(tmp_path, "grid", "t.parquet", params="  optimizer: {grid: [sgd, adam]}\n"
                             "  lr: {grid: [0.001, 0.01]}", extra="max_concurrent_trials: 1\n"), {"num_samples": 1})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the run's lines and summary, as `hwk4tune run` prints them
        exp = run_sweep(spec, storage=str(tmp_path / "runs"), name="exp")
    return exp, out.getvalue()


def test_a_warm_started_grid_runs_only_new_configs(ray_local, warm_grid_sweep):
    from hwk4tune.results import load_experiment

    warm_grid_sweep, out = warm_grid_sweep
    exp = load_experiment(warm_grid_sweep)
    assert len(exp.trials) == 2 and set(exp.trials["status"]) == {"TERMINATED"}
    assert set(exp.trials["config/lr"]) == {0.001}
    assert "warm start (learn): 2 earlier trials: 2 used as they were, 0 mapped, 0 left out" in out
    assert "2 trials planned: 2 finished, 0 errors" in out and "unfinished" not in out
    assert "warm start: 2 earlier trials seeded the searcher (not counted above); 2 planned configs already " \
           "evaluated were skipped" in out
    assert warm_note(warm_grid_sweep).startswith("warm start: 2 earlier trials seeded the searcher (of 2 in ")
    table = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "table", str(warm_grid_sweep)], capture_output=True,
                           text=True, timeout=120)
    assert table.returncode == 0 and "warm start: 2 earlier trials seeded the searcher" in table.stderr
    from hwk4tune.report.page import build_report

    assert "warm start</th><td>warm start: 2 earlier trials seeded the searcher" in build_report(warm_grid_sweep)[1]


def test_an_experiment_folder_and_its_s3_copy_as_sources(ray_local, warm_grid_sweep, tmp_path, monkeypatch):
    """The sweep above is an earlier experiment in its turn: read from its folder and from an s3:// URI
    (moto's local S3 server, as tests/test_storage_uris.py runs it)."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    warm_grid_sweep = warm_grid_sweep[0]
    local = read_source(str(warm_grid_sweep))
    assert len(local.trials) == 2 and local.objectives == [("val_accuracy", "max")]
    assert {t.config["lr"] for t in local.trials} == {0.001} and local.trainable == "cnn"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "HWK4TUNE_CACHE": str(tmp_path / "c")}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")
        client.create_bucket(Bucket="warm")
        for f in warm_grid_sweep.rglob("*"):
            if f.is_file():
                client.upload_file(str(f), "warm", f"runs/exp/{f.relative_to(warm_grid_sweep).as_posix()}")
        sweep = _sweep(tmp_path, "optuna", "s3://warm/runs/exp")
        plan = plan_warm_start(load_sweep(sweep))
        assert sorted(t.values for t in plan.trials) == sorted(t.values for t in local.trials)
        assert plan.lines()[0] == "warm start (learn): 2 earlier trials: 2 used as they were, 0 mapped, 0 left out"
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)


def test_an_optuna_sweep_warm_started_from_an_experiment_folder(ray_local, warm_grid_sweep, tmp_path):
    """Through Tune (the searcher pickled with its study): the earlier sweep's folder seeds Optuna; its space
    had lr as a grid, today's a range that holds only one of its values (1e-3), so nothing is left out."""
    from hwk4tune.results import load_experiment
    from hwk4tune.sweep import run_sweep

    earlier = str(warm_grid_sweep[0])
    spec = load_sweep(_sweep(tmp_path, "{name: optuna, seed: 0}", earlier, extra="max_concurrent_trials: 1\n"),
                      {"num_samples": 1})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exp = run_sweep(spec, storage=str(tmp_path / "runs"), name="exp")
    assert "warm start (learn): 2 earlier trials: 2 used as they were, 0 mapped, 0 left out" in out.getvalue()
    assert "1 trials planned: 1 finished, 0 errors" in out.getvalue()
    assert len(load_experiment(exp).trials) == 1
