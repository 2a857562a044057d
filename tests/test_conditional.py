"""Conditional spaces (`when:`): checked with located errors, and compiled for every searcher so that no trial's
config holds an inactive parameter and every active one is there (real Ray, Optuna, HyperOpt, PBT)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwk4tune.results import format_table, load_experiment
from hwk4tune.space import Space, SpaceError
from hwk4tune.spec import SpecError, load_space, load_sweep
from hwk4tune.spec.summary import summarize
from hwk4tune.sweep import run_sweep
from hwk4tune.tune.search_space import tune_param_space

ROOT = Path(__file__).resolve().parent.parent
TRAINABLE = ROOT / "tests" / "data" / "conditional_trainable.py"

# momentum and nesterov only for the momentum optimizer; dampening only without nesterov (a condition on a
# conditional parameter); a group whose condition applies to both of its leaves (one of them a constant)
SPACE = """\
trainable: {trainable}:train
max_epochs: {epochs}
space:
  optimizer: {{{cat}: [sgd, momentum, adam]}}
  momentum: {{{rng}: [0.5, 0.9], when: {{optimizer: momentum}}}}
  nesterov: {{{cat}: [true, false], when: {{optimizer: momentum}}}}
  dampening: {{uniform: [0.0, 0.5], when: {{nesterov: false}}}}
  lr: {{loguniform: [1.0e-4, 0.1]}}
  schedule:
    when: {{optimizer: [sgd, momentum]}}
    kind: step
    gamma: {{{rng}: [0.1, 0.5]}}
"""


def space_yaml(cat: str = "choice", epochs: int = 1) -> str:
    """SPACE with choices (ranges uniform), or with grids everywhere but lr and dampening."""
    return SPACE.format(trainable=TRAINABLE, epochs=epochs, cat=cat, rng="grid" if cat == "grid" else "uniform")


def expected_keys(config: dict) -> set[str]:
    """What a trial with this config must hold, written out by hand from SPACE."""
    keys = {"optimizer", "lr"}
    if config["optimizer"] == "momentum":
        keys |= {"momentum", "nesterov"}
        if config["nesterov"] is False:
            keys.add("dampening")
    if config["optimizer"] in ("sgd", "momentum"):
        keys |= {"schedule/kind", "schedule/gamma"}
    return keys


def flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        out.update(flat(v, f"{prefix}{k}/") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def sweep(tmp_path: Path, body: str, *, cat: str = "choice", epochs: int = 1, concurrent: int = 2) -> Path:
    (tmp_path / "space.yaml").write_text(space_yaml(cat, epochs))
    path = tmp_path / "sweep.yaml"
    path.write_text(f"space: space.yaml\nmax_concurrent_trials: {concurrent}\n" + textwrap.dedent(body))
    return run_sweep(load_sweep(path), storage=str(tmp_path / "runs"), name="exp")  # default output on


def trial_configs(exp: Path) -> list[dict]:
    """Each trial's config as Tune gave it (params.json), checked against what the trainable saw and every
    config Tune recorded with a result (PBT changes them)."""
    out = []
    for d in sorted(exp.glob("trial_*")):
        config = flat(json.loads((d / "params.json").read_text()))
        rows = [json.loads(line) for line in (d / "result.json").read_text().splitlines() if line.strip()]
        assert rows, f"{d.name} reported nothing"
        for row in rows:
            seen = set(row["seen"].split(","))
            assert seen == set(flat(row["config"])) == expected_keys(flat(row["config"])), (d.name, row["config"])
        out.append(config)
    return out


def check(configs: list[dict]) -> None:
    assert len(configs) >= 20
    for c in configs:
        assert set(c) == expected_keys(c), c  # no inactive parameter, every active one
        assert 1e-4 <= c["lr"] <= 0.1
        if "momentum" in c:
            assert 0.5 <= c["momentum"] <= 0.9 and c["nesterov"] in (True, False)  # the space's range
        if "schedule/kind" in c:
            assert c["schedule/kind"] == "step" and 0.1 <= c["schedule/gamma"] <= 0.5
    optimizers = {c["optimizer"] for c in configs}
    assert optimizers == {"sgd", "momentum", "adam"}, optimizers  # every branch was exercised


# ------------------------------------------------------------------------------------------ every searcher


def test_random_search_leaves_inactive_parameters_out_and_tables_empty(ray_local, tmp_path):
    exp = sweep(tmp_path, "searcher: {name: random, seed: 0}\nnum_samples: 24\n")
    configs = trial_configs(exp)
    check(configs)
    assert len(configs) == 24
    trials = load_experiment(exp).trials
    momentum = trials.set_index("config/optimizer")["config/momentum"]
    assert momentum.drop("momentum", errors="ignore").isna().all() and momentum.loc[["momentum"]].notna().all()
    table = format_table(trials[["trial_id", "config/optimizer", "config/momentum"]], "csv")
    adam_rows = [line for line in table.splitlines() if ",adam," in line]
    assert adam_rows and all(line.endswith(",") for line in adam_rows), adam_rows  # empty, not nan


def test_random_search_with_a_seed_repeats(tmp_path):
    from hwk4tune.tune.conditional_search import planned_configs

    space = load_space(_write(tmp_path, space_yaml())).space
    assert planned_configs(space, 20, seed=3) == planned_configs(space, 20, seed=3)
    assert planned_configs(space, 20, seed=3) != planned_configs(space, 20, seed=4)


def test_grid_expands_only_valid_combinations(ray_local, tmp_path):
    # by hand: sgd x gamma (2) + momentum x momentum (2) x nesterov (2) x gamma (2) + adam = 2 + 8 + 1 = 11
    space = load_space(_write(tmp_path / "s", space_yaml("grid"))).space
    assert len(space.grid_points()) == 11
    exp = sweep(tmp_path, "searcher: grid\nnum_samples: 2\n", cat="grid")
    configs = trial_configs(exp)
    check(configs)
    assert len(configs) == 22
    combos = pd.DataFrame(configs).drop(columns=["lr", "dampening"], errors="ignore").astype(str)
    assert combos.value_counts().eq(2).all() and len(combos.drop_duplicates()) == 11


@pytest.mark.newest
@pytest.mark.parametrize("searcher", ["optuna", "hyperopt"])
def test_model_based_searchers_suggest_only_active_parameters(ray_local, tmp_path, searcher):
    start = {"optimizer": "momentum", "momentum": 0.9, "nesterov": False, "dampening": 0.25, "lr": 0.01,
             "schedule/gamma": 0.3}
    extra = "n_initial_points: 5" if searcher == "hyperopt" else "sampler: tpe"
    exp = sweep(tmp_path, f"""\
        searcher: {{name: {searcher}, seed: 0, {extra}, points_to_evaluate: [{json.dumps(start)}]}}
        num_samples: 20
        """)
    configs = trial_configs(exp)
    check(configs)
    assert {**start, "schedule/kind": "step"} in configs  # the start point ran as given


def test_pbt_mutates_a_conditional_parameter_only_where_it_is_active(ray_local, tmp_path):
    # the whole population at once (0.3 CPU each), in step (synch): every exploit finds a top trial's
    # checkpoint (asynchronous, two at a time, a loaded CI machine once saw no exploit at all)
    exp = sweep(tmp_path, """\
        searcher: {name: random, seed: 1}
        scheduler:
          name: pbt
          perturbation_interval: 1
          quantile_fraction: 0.5
          resample_probability: 0.5
          synch: true
          seed: 0
          hyperparam_mutations: {lr: {loguniform: [1.0e-4, 0.1]}, momentum: {uniform: [0.5, 0.99]}}
        num_samples: 6
        resources_per_trial: {cpu: 0.3}
        """, epochs=4, concurrent=6)
    trial_configs(exp)  # every config of every result, after each exploit
    policies = list(exp.glob("**/pbt_policy_*.txt"))
    assert policies, "no trial was ever exploited: the test checked nothing"


def test_a_cnn_trial_without_momentum_uses_the_default(ray_local, tmp_path):
    (tmp_path / "space.yaml").write_text(textwrap.dedent("""\
        trainable: cnn
        dataset: {name: digits, subset: 200}
        max_epochs: 1
        space:
          optimizer: {grid: [adam, momentum]}
          momentum: {grid: [0.8], when: {optimizer: momentum}}
          hidden: 16
          batch_size: 64
        """))
    (tmp_path / "sweep.yaml").write_text("space: space.yaml\nsearcher: grid\nnum_samples: 1\n")
    exp = run_sweep(load_sweep(tmp_path / "sweep.yaml"), storage=str(tmp_path / "runs"), name="exp", verbose=False)
    trials = load_experiment(exp).trials.set_index("config/optimizer")
    assert (trials["status"] == "TERMINATED").all() and len(trials) == 2
    assert pd.isna(trials.loc["adam", "config/momentum"]) and trials.loc["momentum", "config/momentum"] == 0.8
    # the adam trial trained its epoch (not its accuracy: 1 epoch, 20 validation images can score 0)
    assert trials.loc["adam", "epochs"] == 1 and np.isfinite(trials.loc["adam", "last_train_loss"])


# ------------------------------------------------------------------------------------------ errors, located


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "space.yaml"
    path.write_text(text)
    return path


HEAD = "trainable: cnn\ndataset: digits\nmax_epochs: 1\nspace:\n  optimizer: {choice: [sgd, momentum]}\n"


@pytest.mark.parametrize("line, expected", [
    ("  momentum: {uniform: [0.5, 0.99], when: {optimiser: momentum}}",
     "6: space.momentum.when.optimiser: no parameter 'optimiser' in the space; did you mean 'optimizer'? "
     "(a condition names a choice, grid or constant of the space: optimizer)"),
    ("  momentum: {uniform: [0.5, 0.99], when: {optimizer: [momentum, nesterov]}}",
     "6: space.momentum.when.optimizer: 'nesterov' is not among optimizer's values [sgd, momentum]"),
    ("  lr: {loguniform: [1.0e-4, 0.1]}\n  momentum: {uniform: [0.5, 0.99], when: {lr: 0.01}}",
     "7: space.momentum.when.lr: lr is loguniform(0.0001, 0.1), a continuous parameter: a condition needs a "
     "categorical parameter (choice or grid) or a constant"),
    ("  batch_norm: {choice: [true, false], when: {hidden: 32}}\n  hidden: {choice: [32, 64], when: {batch_norm: true}}",
     "7: space.hidden.when.batch_norm: conditions form a cycle: batch_norm -> hidden -> batch_norm (each is drawn "
     "only where the next is active, so none ever is)"),
    ("  momentum: {grid: [0.5, 0.9], when: {optimizer: momentum}}",
     "6: space.momentum.when.optimizer: momentum is a grid parameter, so its condition may name only grid "
     "parameters and constants (the grid's combinations must be known before anything is drawn), but it depends "
     "on optimizer, choice ['sgd', 'momentum']: make optimizer a grid too, or momentum a choice"),
    ("  momentum: {uniform: [0.5, 0.99], when: momentum}",
     "6: space.momentum.when: takes a mapping of parameter -> value (or a list of values, any of them), e.g. "
     "{optimizer: momentum}; got 'momentum'"),
])
def test_bad_conditions_are_located_errors(tmp_path, line, expected):
    path = _write(tmp_path, HEAD + line + "\n")
    with pytest.raises(SpecError) as info:
        load_space(path)
    assert str(info.value) == f"{path}:{expected}"


def test_a_group_condition_naming_its_own_leaf_is_refused(tmp_path):
    path = _write(tmp_path, f"trainable: {TRAINABLE}:train\nmax_epochs: 1\nspace:\n  schedule:\n"
                            "    when: {kind: step}\n    kind: step\n")
    with pytest.raises(SpecError) as info:
        load_space(path)
    assert str(info.value) == (f"{path}:5: space.schedule.when.kind: kind is inside the group this condition is "
                               "written on: a group's condition names a parameter outside it")


def _sweep_error(tmp_path: Path, body: str) -> str:
    _write(tmp_path, space_yaml())
    path = tmp_path / "sweep.yaml"
    path.write_text("space: space.yaml\n" + textwrap.dedent(body))
    with pytest.raises(SpecError) as info:
        load_sweep(path)
    return str(info.value).replace(str(path), "SWEEP")


def test_pb2_refuses_conditional_parameters(tmp_path):
    message = _sweep_error(tmp_path, "searcher: random\nscheduler: {name: pb2, hyperparam_bounds: "
                                     "{lr: [1.0e-4, 0.1], momentum: [0.5, 0.99]}}\n")
    assert message == ("SWEEP:3: scheduler.hyperparam_bounds: pb2 cannot explore conditional parameters (momentum "
                       "when optimizer = momentum): its model needs each bound in every trial; give "
                       "hyperparam_bounds without them, or use pbt")


def test_pbt_refuses_to_mutate_a_parent_of_conditions(tmp_path):
    message = _sweep_error(tmp_path, "searcher: random\nscheduler: {name: pbt, hyperparam_mutations: "
                                     "{nesterov: [true, false]}}\n")
    assert message == ("SWEEP:3: scheduler.hyperparam_mutations: nesterov cannot be mutated: conditions of the "
                       "space name them, and a mutation would switch other parameters on or off in the middle of "
                       "training")


def test_a_start_point_sets_exactly_the_active_parameters(tmp_path):
    message = _sweep_error(tmp_path, "searcher: {name: optuna, points_to_evaluate: "
                                     "[{optimizer: adam, momentum: 0.9, lr: 0.01}]}\n")
    assert message == ("SWEEP:2: searcher.points_to_evaluate.0: optuna needs each start point to set every "
                       "parameter active under it and no other: inactive here momentum")


# ------------------------------------------------------------------------------------------ the DSL


def test_round_trip_tree_and_shipped_spaces(tmp_path):
    space = load_space(_write(tmp_path, space_yaml())).space
    assert Space.parse(space.to_yaml()) == space and space.to_yaml()["schedule"]["when"] == {
        "optimizer": ["sgd", "momentum"]}
    assert space.order.index("nesterov") < space.order.index("dampening")
    with pytest.raises(ValueError, match="conditional space has no Ray Tune param_space"):
        tune_param_space(space)
    for name in ("cnn_digits", "cnn_mnist", "cnn_fashion_mnist"):
        spec = load_space(ROOT / "search_spaces" / f"{name}.yaml")
        (req,) = spec.space.requirements["momentum"]
        assert (req.parent, req.values) == ("optimizer", ("momentum",))
    resnet = load_space(ROOT / "search_spaces/resnet_cifar10.yaml").space
    assert [(r.parent, r.values) for r in resnet.requirements["dropout"]] == [("finetune", ("layer4", "all"))]
    text = summarize(load_space(ROOT / "search_spaces/cnn_digits.yaml"), "cnn_digits.yaml")
    assert "\n    optimizer     choice ['sgd', 'momentum', 'adam', 'adagrad']\n" \
           "      momentum    uniform(0.5, 0.99)  when optimizer = momentum\n    lr  " in text


def test_the_documented_example_validates_as_shown():
    from hwk4tune.spec import load_any

    folder = ROOT / "docs" / "examples" / "conditional"
    for path in sorted(folder.glob("*.yaml")):
        load_any(path)
    text = summarize(load_space(folder / "space.yaml"), "docs/examples/conditional/space.yaml")
    assert text in (ROOT / "docs" / "conditional_spaces.md").read_text()  # the page shows the real output


def test_when_is_checked_before_the_trainable_sees_it():
    with pytest.raises(SpaceError, match="space.x.when: a condition needs a distribution beside it"):
        Space.parse({"x": {"when": {"y": 1}}})
    tree = Space.parse({"o": {"choice": ["a", "b"]}, "g": {"when": {"o": "a"}, "x": 1, "y": {"uniform": [0, 1]}}})
    assert tree.active_config({"o": "b", "g/y": 0.5}) == {"o": "b"}
    assert tree.active_config({"o": "a", "g/y": 0.5}) == {"o": "a", "g/x": 1, "g/y": 0.5}
