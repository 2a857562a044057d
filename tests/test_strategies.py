"""Searcher/scheduler registries and the pairing rules: every rule refuses its sweep before Ray starts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hwk4tune.cli import main
from hwk4tune.spec import SCHEDULERS, SEARCHERS, SpecError, load_sweep
from hwk4tune.tune import strategies

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 300}
max_epochs: 3
space:
  optimizer: {choice: [sgd, adam]}
  lr: {loguniform: [1.0e-3, 0.1]}
  dropout: {uniform: [0.0, 0.5]}
  hidden: 32
"""


def write_sweep(tmp_path: Path, sweep: str, space: str = SPACE) -> Path:
    (tmp_path / "space.yaml").write_text(space)
    path = tmp_path / "sweep.yaml"
    path.write_text("space: space.yaml\n" + textwrap.dedent(sweep))
    return path


def args_for(path: Path) -> strategies.StrategyArgs:
    return strategies.StrategyArgs.from_sweep(load_sweep(path), name="t")


def test_every_registered_model_names_a_builder_that_exists():
    # each model's builder is tune/strategies.py's function of its own name (grid and random: the one
    # basic_variant), so no model points at another one's builder
    for model in SEARCHERS + SCHEDULERS:
        (name,) = model.model_fields["name"].annotation.__args__
        module, _, function = model.builder.partition(":")
        assert module == "hwk4tune.tune.strategies", model.builder
        assert function == ("basic_variant" if name in ("grid", "random") else name), model.builder
        assert getattr(strategies, function).__name__ == function


@pytest.mark.parametrize("searcher", ["grid", "random", "optuna", "hyperopt"])
def test_searchers_build_with_concurrency(tmp_path, searcher):
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    space = SPACE.replace("optimizer: {choice", "optimizer: {grid") if searcher == "grid" else SPACE
    path = write_sweep(tmp_path, f"searcher: {{name: {searcher}}}\nmax_concurrent_trials: 2\n", space)
    built = strategies.build_searcher(args_for(path))
    if searcher in ("grid", "random"):
        assert isinstance(built, BasicVariantGenerator) and built.max_concurrent == 2
    else:
        assert isinstance(built, ConcurrencyLimiter) and built.max_concurrent == 2
        assert built.searcher.metric is None  # metric and mode come from TuneConfig only


def test_optuna_sampler_seed_and_storage(tmp_path):
    import optuna

    db = tmp_path / "optuna.db"
    path = write_sweep(tmp_path, f"searcher: {{name: optuna, sampler: qmc, seed: 3, storage: 'sqlite:///{db}'}}\n")
    built = strategies.build_searcher(args_for(path))
    assert isinstance(built._sampler, optuna.samplers.QMCSampler)
    assert built._study_name == "t"  # the experiment's name, so optuna-dashboard can tell sweeps apart


SCHEDULER_CLASSES = {"fifo": "FIFOScheduler", "asha": "AsyncHyperBandScheduler", "hyperband": "HyperBandScheduler",
                     "median": "MedianStoppingRule", "pbt": "PopulationBasedTraining", "pb2": "PB2"}


@pytest.mark.parametrize("scheduler", sorted(SCHEDULER_CLASSES))
def test_schedulers_build_and_count_epochs(tmp_path, scheduler):
    body = ("scheduler: {name: pb2, hyperparam_bounds: {lr: [0.001, 0.1]}}\n" if scheduler == "pb2"
            else f"scheduler: {scheduler}\n")
    path = write_sweep(tmp_path, "searcher: random\n" + body)
    built = strategies.build_scheduler(args_for(path))
    # Ray's class, or hwk4tune's subclass of it (hyperband: hwk4tune.tune.hyperband.CappedHyperBand)
    assert SCHEDULER_CLASSES[scheduler] in [c.__name__ for c in type(built).__mro__]
    if scheduler != "fifo":  # FIFO has no time attribute: it never stops a trial
        assert built._time_attr == "epoch"  # Ray's own default for pbt/pb2/median is time_total_s
    if scheduler == "asha":
        assert built._max_t == 3  # max_epochs of the space
    if scheduler == "hyperband":
        assert built._max_t_attr == 3


def test_pbt_mutations_from_the_space(tmp_path):
    from ray.tune.search.sample import Float

    spec = load_sweep(write_sweep(tmp_path, "searcher: random\nscheduler: pbt\n"))
    mutations = strategies.pbt_mutations(spec.space)
    assert "optimizer" not in mutations  # fixed while training: the optimizer state would not load
    assert isinstance(mutations["lr"], Float) and mutations["lr"].lower == pytest.approx(1e-3)
    assert "hidden" not in mutations  # constants do not mutate
    given = strategies.pbt_mutations(spec.space, {"lr": {"uniform": [0.01, 0.02]}, "dropout": [0.1, 0.2]})
    assert set(given) == {"lr", "dropout"} and given["dropout"] == [0.1, 0.2]


def test_pb2_bounds_from_the_space(tmp_path):
    space = SPACE.replace("  optimizer: {choice: [sgd, adam]}\n", "")
    spec = load_sweep(write_sweep(tmp_path, "searcher: random\nscheduler: pb2\n", space))
    assert strategies.pb2_bounds(spec.space) == {"lr": [1e-3, 0.1], "dropout": [0.0, 0.5]}


# ------------------------------------------------------------------------------------------ rules

RULES = {
    # id: (sweep body, space or None, key named in the message)
    "grid-with-optuna": ("searcher: optuna\n", SPACE.replace("optimizer: {choice", "optimizer: {grid"), "searcher"),
    "grid-with-hyperopt": ("searcher: hyperopt\n", SPACE.replace("optimizer: {choice", "optimizer: {grid"), "searcher"),
    "grid-without-grid-params": ("searcher: grid\n", None, "searcher"),
    "pb2-categorical": ("searcher: random\nscheduler: pb2\n", None, "scheduler"),
    "pb2-unknown-bound": ("searcher: random\nscheduler: {name: pb2, hyperparam_bounds: {lrr: [0.1, 0.2]}}\n",
                          None, "scheduler.hyperparam_bounds"),
    "pbt-unknown-mutation": ("searcher: random\nscheduler: {name: pbt, hyperparam_mutations: {mom: [0.1]}}\n",
                             None, "scheduler.hyperparam_mutations"),
    "pbt-with-optuna": ("searcher: optuna\nscheduler: pbt\n", None, "scheduler"),
    "pb2-with-hyperopt": ("searcher: hyperopt\nscheduler: {name: pb2, hyperparam_bounds: {lr: [0.001, 0.1]}}\n",
                          None, "scheduler"),
    "asha-grace-beyond-max-epochs": ("searcher: random\nscheduler: {name: asha, grace_period: 4}\n", None,
                                     "scheduler.grace_period"),
    "asha-time-in-seconds": ("searcher: random\nscheduler: {name: asha, time_attr: time_total_s}\n", None,
                             "scheduler.time_attr"),
    "time-attr-never-reported": ("searcher: random\nscheduler: {name: median, time_attr: steps}\n", None,
                                 "scheduler.time_attr"),
    "time-attr-not-monotone": ("searcher: random\nscheduler: {name: pbt, time_attr: val_loss}\n", None,
                               "scheduler.time_attr"),
    "metric-never-reported": ("searcher: random\n", SPACE.replace("max_epochs: 3", "max_epochs: 3\nmetric: accuracy"),
                              "metric"),  # named in the space file, at its own line
    "optuna-normal": ("searcher: optuna\n", SPACE.replace("uniform: [0.0, 0.5]", "normal: [0.2, 0.1]"), "searcher"),
    "start-point-missing-key": ("searcher: {name: optuna, points_to_evaluate: [{lr: 0.01}]}\n", None,
                                "searcher.points_to_evaluate.0"),
    "start-point-bad-choice": ("searcher: {name: hyperopt, points_to_evaluate: "
                               "[{optimizer: rmsprop, lr: 0.01, dropout: 0.1}]}\n", None,
                               "searcher.points_to_evaluate.0.optimizer"),
}
if not __import__("importlib").util.find_spec("cmaes"):
    RULES["cmaes-not-installed"] = ("searcher: {name: optuna, sampler: cmaes}\n", None, "searcher.sampler")


@pytest.mark.parametrize("rule", sorted(RULES))
def test_pairing_rule_refused_in_one_located_line(tmp_path, capsys, rule):
    body, space, key = RULES[rule]
    path = write_sweep(tmp_path, body, space or SPACE)
    code = main(["run", str(path), "--storage", str(tmp_path / "runs"), "--name", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert str(tmp_path) in err[0] and f": {key}: " in err[0], err[0]  # the sweep file or its space file
    assert not (tmp_path / "runs").exists()  # nothing written


RUN_ALL = """
import contextlib, io, json, sys
from hwk4tune.cli import main
out = []
for path, storage in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", path, "--storage", storage, "--name", "x"])
    out.append([code, err.getvalue()])
ray = sys.modules.get("ray")
print(json.dumps({"results": out, "ray_started": bool(ray and ray.is_initialized())}))
"""


def test_refused_sweeps_start_no_ray_and_no_trial(tmp_path):
    """In a fresh process (the test session's Ray would hide it): every refused sweep exits 2 before Ray
    starts and before its experiment folder exists."""
    cases = []
    for rule in sorted(RULES):
        folder = tmp_path / rule
        folder.mkdir()
        body, space, _ = RULES[rule]
        cases.append([str(write_sweep(folder, body, space or SPACE)), str(folder / "runs")])
    proc = subprocess.run([sys.executable, "-c", RUN_ALL, json.dumps(cases)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [code for code, _ in report["results"]] == [2] * len(RULES)
    assert all(len(err.strip().splitlines()) == 1 for _, err in report["results"]), report["results"]
    assert report["ray_started"] is False
    assert not any(Path(storage).exists() for _, storage in cases)


OWN_NO_CHECKPOINTS = """\
def train(config, max_epochs=1):
    from ray import tune

    for epoch in range(1, max_epochs + 1):
        tune.report({"score": config.get("lr", 0.0) * epoch, "epoch": epoch})


train.reports = ("score", "epoch")
train.checkpoints = False
"""


def test_trainable_that_cannot_checkpoint_refused_for_pbt_and_hyperband(tmp_path, capsys):
    (tmp_path / "own.py").write_text(OWN_NO_CHECKPOINTS)
    space = "trainable: own.py:train\nmetric: score\nmax_epochs: 3\nspace:\n  lr: {uniform: [0.1, 1.0]}\n"
    for scheduler in ("pbt", "hyperband", "pb2"):
        path = write_sweep(tmp_path, f"searcher: random\nscheduler: {scheduler}\n", space)
        assert main(["run", str(path), "--storage", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"{path}:3: scheduler: {scheduler} restores trials from checkpoints, but trainable "), err
        assert err.endswith("own.py:train' saves none: use asha, median or fifo") and "\n" not in err, err
    path = write_sweep(tmp_path, "searcher: random\nscheduler: asha\n", space)
    assert load_sweep(path).scheduler.name == "asha"  # asha does not need them
    assert not (tmp_path / "runs").exists()


def test_notices_for_wasteful_choices(tmp_path):
    path = write_sweep(tmp_path, "searcher: {name: optuna}\nscheduler: {name: asha, grace_period: 3}\n"
                       "num_samples: 5\nreuse_actors: false\n")
    found = load_sweep(path).notices()
    assert any("random search" in n for n in found)
    assert any("stops no trial early" in n for n in found)
    assert any("reuse_actors" in n for n in found)
    quiet = write_sweep(tmp_path, "searcher: {name: hyperopt, n_initial_points: 4}\nscheduler: asha\nnum_samples: 20\n")
    assert load_sweep(quiet).notices() == []


def test_problems_raise_spec_error_naming_the_file(tmp_path):
    path = write_sweep(tmp_path, "searcher: random\nscheduler: {name: median, time_attr: steps}\n")
    with pytest.raises(SpecError) as exc:
        load_sweep(path)
    assert str(exc.value).startswith(f"{path}:3: scheduler.time_attr: ")


def test_pbt_perturbations_stay_inside_the_space(tmp_path):
    """Ray's PBT multiplies by 0.8 / 1.2 without clipping (momentum 0.84 became 1.008 and failed its trial)."""
    space = SPACE.replace("  hidden: 32\n", "  momentum: {uniform: [0.5, 0.95]}\n  hidden: {randint: [16, 64]}\n")
    spec = load_sweep(write_sweep(tmp_path, "searcher: random\nscheduler: pbt\n", space))
    bounds = strategies.pbt_bounds(spec.space)
    assert bounds == {"lr": (1e-3, 0.1), "dropout": (0.0, 0.5), "momentum": (0.5, 0.95)}  # hidden is fixed
    config = {"lr": 0.2, "dropout": -0.1, "momentum": 0.84 * 1.2, "optimizer": "adam", "hidden": 40}
    assert strategies.clip_into(bounds, config) == {"lr": 0.1, "dropout": 0.0, "momentum": 0.95,
                                                    "optimizer": "adam", "hidden": 40}
    assert strategies.clip_into({"n": (1, 8)}, {"n": 10}) == {"n": 8}
    # and the scheduler Ray gets applies it after every perturbation
    scheduler = strategies.build_scheduler(strategies.StrategyArgs.from_sweep(spec, "x"))
    assert scheduler._custom_explore_fn({"lr": 0.5, "momentum": 1.1})["momentum"] == 0.95
