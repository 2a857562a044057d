"""Genetic algorithms and particle swarms: nevergrad's PSO / DE / CMA / (1+1) / NGOpt through Ray's
NevergradSearch, and Optuna's NSGA-II. Real sweeps, their pairing errors, and seeded reproducibility."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import pytest

from hwk4tune.cli import main
from hwk4tune.spec import SpecError, load_sweep
from hwk4tune.spec.searchers import NEVERGRAD_OPTIMIZERS
from hwk4tune.sweep import check_sweep, run_sweep
from hwk4tune.tune import strategies
from hwk4tune.tune.search_space import tune_param_space

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 300}
max_epochs: 1
space:
  optimizer: {choice: [sgd, adam]}
  lr: {loguniform: [1.0e-3, 0.1]}
  dropout: {uniform: [0.0, 0.5]}
  hidden: {randint: [16, 64]}
  batch_size: 32
"""


def write_sweep(tmp_path: Path, body: str, space: str = SPACE) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "space.yaml").write_text(space)
    path = tmp_path / "sweep.yaml"
    path.write_text("space: space.yaml\n" + textwrap.dedent(body))
    return path


def refused(tmp_path: Path, body: str, space: str = SPACE) -> list[str]:
    with pytest.raises(SpecError) as exc:
        load_sweep(write_sweep(tmp_path, body, space))
    return [str(p) for p in exc.value.problems]


# ------------------------------------------------------------------------------------------ real sweeps

SWEEPS = {
    "pso": "searcher: {name: nevergrad, optimizer: PSO, popsize: 2, seed: 0}",
    "de": "searcher: {name: nevergrad, optimizer: TwoPointsDE, popsize: 3, seed: 0}",
    "nsga2": "searcher: {name: optuna, sampler: nsga2, population_size: 2, mutation_prob: 0.3, "
             "crossover_prob: 0.8, seed: 0}",
}


def searcher_state(exp: Path) -> bytes:
    """The searcher Tune saved in the experiment folder (pickled)."""
    saved = sorted(exp.glob("search*state*.pkl"))
    assert saved, f"no saved searcher in {sorted(p.name for p in exp.iterdir())}"
    return saved[-1].read_bytes()


@pytest.mark.newest
@pytest.mark.oldest_ray
@pytest.mark.parametrize("which", SWEEPS)
def test_real_sweep(ray_local, tmp_path, which):
    from ray.tune import ExperimentAnalysis

    spec = load_sweep(write_sweep(tmp_path, f"{SWEEPS[which]}\nnum_samples: 5\nmax_concurrent_trials: 2\n"))
    exp = run_sweep(spec, storage=str(tmp_path / "runs"), name="exp")  # default output on
    trials = ExperimentAnalysis(str(exp)).trials
    assert [t.status for t in trials] == ["TERMINATED"] * 5
    params = spec.space.params
    for t in trials:
        for name in ("optimizer", "lr", "dropout", "hidden"):
            assert params[name].contains(t.config[name]), (name, t.config[name])
        assert t.config["batch_size"] == 32
        rows = [json.loads(line) for line in (Path(t.path) / "result.json").read_text().splitlines() if line]
        assert [r["epoch"] for r in rows] == [1]
        # the share of digits' 30 validation images (subset 300, 10 %) it got right: a count over 30
        assert (rows[0]["val_accuracy"] * 30) == pytest.approx(round(rows[0]["val_accuracy"] * 30), abs=1e-6)
        assert rows[0]["train_status"] == "ok" and rows[0]["config"] == t.config
    state = searcher_state(exp)
    expected = {"pso": b"ConfPSO", "de": b"DifferentialEvolution", "nsga2": b"NSGAIISampler"}[which]
    assert expected in state  # the configurations came from the named algorithm
    assert pickle.loads(state)  # and `resume` can load the searcher back (the seeded factory pickles)


# ------------------------------------------------------------------------------------------ reproducibility


def first_configs(tmp_path: Path, searcher: str, n: int) -> list[dict]:
    """The first ``n`` configurations a searcher suggests, each told a result that depends on it only,
    so a population reaches its second generation."""
    spec = load_sweep(write_sweep(tmp_path, f"searcher: {searcher}\nnum_samples: {n}\n"))
    built = strategies.build_searcher(strategies.StrategyArgs.from_sweep(spec))
    assert built.set_search_properties("val_accuracy", "max", tune_param_space(spec.space.space))
    out = []
    for i in range(n):
        config = built.suggest(str(i))
        out.append(config)
        score = config["dropout"] - abs(config["lr"] - 0.01) + (config["optimizer"] == "adam") / 10
        built.on_trial_complete(str(i), {"val_accuracy": score})
    return out


@pytest.mark.parametrize("optimizer", NEVERGRAD_OPTIMIZERS)
def test_nevergrad_seed_reproduces_first_configs(tmp_path, optimizer):
    import numpy as np

    popsize = ", popsize: 4" if optimizer in ("PSO", "RealSpacePSO", "TwoPointsDE", "DE") else ""
    make = lambda seed: f"{{name: nevergrad, optimizer: {optimizer}, seed: {seed}{popsize}}}"  # noqa: E731
    np.random.seed(123)  # global NumPy state must not matter: draw from it between the runs
    a = first_configs(tmp_path / "a", make(0), 12)
    np.random.rand(7)
    b = first_configs(tmp_path / "b", make(0), 12)
    c = first_configs(tmp_path / "c", make(1), 12)
    assert a == b
    assert a != c
    assert len({json.dumps(x, sort_keys=True) for x in a}) > 1


def test_nsga2_seed_reproduces_first_configs(tmp_path):
    make = lambda seed: f"{{name: optuna, sampler: nsga2, population_size: 3, seed: {seed}}}"  # noqa: E731
    a, b, c = (first_configs(tmp_path / k, make(s), 8) for k, s in (("a", 0), ("b", 0), ("c", 1)))
    assert a == b and a != c


def test_builders_pass_options(tmp_path):
    import optuna
    from nevergrad import families

    spec = load_sweep(write_sweep(tmp_path, "searcher: {name: nevergrad, optimizer: DE, popsize: 5, seed: 3}\n"
                                  "num_samples: 12\nmax_concurrent_trials: 2\n"))
    built = strategies.build_searcher(strategies.StrategyArgs.from_sweep(spec))
    built.set_search_properties("val_accuracy", "max", tune_param_space(spec.space.space))
    ng = built.searcher._nevergrad_opt
    assert isinstance(built.searcher._opt_factory._inner, families.DifferentialEvolution)
    assert (ng.budget, ng.num_workers, ng.llambda) == (12, 2, 5)

    spec = load_sweep(write_sweep(tmp_path, "searcher: {name: optuna, sampler: nsga2, population_size: 4, "
                                  "crossover_prob: 0.7, seed: 0}\n"))
    sampler = strategies.build_searcher(strategies.StrategyArgs.from_sweep(spec))._sampler
    assert isinstance(sampler, optuna.samplers.NSGAIISampler)
    assert sampler._population_size == 4 and sampler._child_generation_strategy._crossover_prob == 0.7


# ------------------------------------------------------------------------------------------ pairing rules


def test_unknown_optimizer_names_the_close_one(tmp_path):
    for typo, close in (("PS0", "PSO"), ("pso", "PSO"), ("TwoPointDE", "TwoPointsDE")):
        (problem,) = refused(tmp_path, f"searcher: {{name: nevergrad, optimizer: {typo}}}\n")
        assert problem.startswith(f"{tmp_path / 'sweep.yaml'}:2: searcher.optimizer: unknown nevergrad optimizer")
        assert f"did you mean {close!r}?" in problem and "valid: PSO, RealSpacePSO" in problem


def test_nevergrad_refuses_grid_normal_and_pbt(tmp_path):
    grid = SPACE.replace("optimizer: {choice", "optimizer: {grid")
    (problem,) = refused(tmp_path, "searcher: {name: nevergrad, optimizer: PSO}\n", grid)
    assert problem == (f"{tmp_path / 'sweep.yaml'}:2: searcher: nevergrad cannot search grid parameters "
                       "(optimizer): use choice instead, or searcher: grid / random")
    normal = SPACE.replace("dropout: {uniform: [0.0, 0.5]}", "dropout: {normal: [0.2, 0.05]}")
    (problem,) = refused(tmp_path, "searcher: {name: nevergrad, optimizer: DE}\n", normal)
    assert ":2: searcher: nevergrad cannot sample normal distributions (dropout)" in problem
    (problem,) = refused(tmp_path, "searcher: {name: nevergrad, optimizer: PSO}\nscheduler: pbt\n")
    assert ":3: scheduler: pbt picks the next configurations itself" in problem and "(nevergrad)" in problem


def test_popsize_only_with_a_population(tmp_path):
    (problem,) = refused(tmp_path, "searcher:\n  name: nevergrad\n  optimizer: OnePlusOne\n  popsize: 8\n")
    assert problem == (f"{tmp_path / 'sweep.yaml'}:5: searcher.popsize: nevergrad's OnePlusOne keeps no population: "
                       "popsize is an option of PSO, RealSpacePSO, TwoPointsDE, DE, CMA")
    (problem,) = refused(tmp_path, "searcher: {name: nevergrad, optimizer: PSO, popsize: 1}\n")
    assert ":2: searcher.popsize: Input should be greater than or equal to 2" in problem


def test_nsga2_options_only_with_nsga2(tmp_path):
    problems = refused(tmp_path, "searcher:\n  name: optuna\n  sampler: tpe\n  population_size: 8\n"
                                 "  crossover_prob: 0.5\n")
    assert problems == [
        f"{tmp_path / 'sweep.yaml'}:5: searcher.population_size: population_size is an option of sampler: nsga2 "
        "only (the genetic algorithm), got sampler: tpe",
        f"{tmp_path / 'sweep.yaml'}:6: searcher.crossover_prob: crossover_prob is an option of sampler: nsga2 "
        "only (the genetic algorithm), got sampler: tpe",
    ]
    (problem,) = refused(tmp_path, "searcher: {name: optuna, sampler: nsga2, mutation_prob: 1.5}\n")
    assert ":2: searcher.mutation_prob: Input should be less than or equal to 1" in problem
    grid = SPACE.replace("optimizer: {choice", "optimizer: {grid")
    (problem,) = refused(tmp_path, "searcher: {name: optuna, sampler: nsga2}\n", grid)
    assert "optuna cannot search grid parameters (optimizer)" in problem


def test_cli_validate_exits_2_with_one_located_line(tmp_path, capsys):
    path = write_sweep(tmp_path, "num_samples: 4\nsearcher: {name: nevergrad, optimizer: PSOO}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{path}:3: searcher.optimizer: unknown nevergrad optimizer 'PSOO'; did you mean 'PSO'? "
                   "(valid: PSO, RealSpacePSO, TwoPointsDE, DE, CMA, OnePlusOne, NGOpt)"]


def test_nevergrad_refuses_conditional_parameters(tmp_path):
    conditional = SPACE.replace("  batch_size: 32\n", "  batch_size: 32\n  momentum: {uniform: [0.5, 0.99], when: "
                                "{optimizer: sgd}}\n  weight_decay: {loguniform: [1.0e-6, 1.0e-2], "
                                "when: {optimizer: adam}}\n")
    (problem,) = refused(tmp_path, "searcher: {name: nevergrad, optimizer: PSO}\n", conditional)
    assert problem == (f"{tmp_path / 'sweep.yaml'}:2: searcher: nevergrad cannot search conditional parameters "
                       "(momentum, weight_decay, with when:): use searcher: random, optuna or hyperopt")
    load_sweep(write_sweep(tmp_path, "searcher: {name: random}\n", conditional))  # the space itself is valid


def test_population_notices(tmp_path):
    notices = check_sweep(load_sweep(write_sweep(tmp_path, "searcher: {name: nevergrad, optimizer: PSO}\n"
                                                 "num_samples: 20\n")))
    assert notices == ["nevergrad's PSO starts from a population of 40 random configurations: with num_samples=20 "
                       "no generation completes, so this is random search (set searcher.popsize to at most 10)"]
    notices = check_sweep(load_sweep(write_sweep(tmp_path, "searcher: {name: nevergrad, optimizer: DE, popsize: 2}\n"
                                                 "num_samples: 20\nmax_concurrent_trials: 3\n")))
    assert notices == ["max_concurrent_trials=3 > popsize=2: nevergrad's DE hands out members of its population "
                       "again before their last result is in"]
    notices = check_sweep(load_sweep(write_sweep(tmp_path, "searcher: {name: optuna, sampler: nsga2}\n"
                                                 "num_samples: 30\n")))
    assert notices == ["optuna's nsga2 sampler starts from a population of 50 random configurations: with "
                       "num_samples=30 no generation completes, so this is random search (set "
                       "searcher.population_size to at most 15)"]
    assert check_sweep(load_sweep(write_sweep(tmp_path, "searcher: {name: nevergrad, optimizer: TwoPointsDE, "
                                              "popsize: 4}\nnum_samples: 20\n"))) == []


@pytest.mark.newest
def test_nsga2_searcher_pickles_and_a_restored_one_continues_its_population(tmp_path):
    """Ray pickles the searcher when it builds the Tuner and at each experiment checkpoint; Optuna 5.1's
    genetic samplers hold a threading.Lock, which broke every NSGA-II sweep. The restored searcher keeps its
    sampler's state: the next trials belong to later generations, never to generation 0 again."""
    import optuna

    spec = load_sweep(write_sweep(tmp_path, "searcher: {name: optuna, sampler: nsga2, population_size: 3, seed: 0}\n"))
    searcher = strategies.build_searcher(strategies.StrategyArgs.from_sweep(spec))
    searcher.set_search_properties("val_accuracy", "max", tune_param_space(spec.space.space))
    for i in range(9):  # three full generations of 3
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"val_accuracy": config["lr"] + config["dropout"]})
    pickle.dumps(searcher)  # what Tuner(...) does
    searcher.save(str(tmp_path / "searcher.pkl"))  # what Tune's experiment checkpoint does

    restored = strategies.build_searcher(strategies.StrategyArgs.from_sweep(spec))
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert isinstance(restored._sampler, optuna.samplers.NSGAIISampler)
    for i in range(9, 12):
        restored.on_trial_complete(f"t{i}", {"val_accuracy": sum(v for v in restored.suggest(f"t{i}").values()
                                                                   if isinstance(v, float))})
    # Optuna names the key "NSGAIISampler:generation" (4.3 on) or "nsga2:generation" (before)
    generations = [next((v for k, v in t.system_attrs.items() if k.endswith(":generation")), None)
                   for t in restored._ot_study.trials]
    assert generations[:9] == [0, 0, 0, 1, 1, 1, 2, 2, 2], generations
    assert generations[9:] == [3, 3, 3], generations
