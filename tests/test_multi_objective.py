"""Several objectives: the spec's rules, a real NSGA-II sweep whose Pareto front is checked by brute force,
`best --pick/--where`, and hypervolume against known answers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from hwk4tune.results import load_experiment
from hwk4tune.results.experiment import ResultsError
from hwk4tune.results.hypervolume import derived_reference, hypervolume, hypervolume_curve
from hwk4tune.results.pareto import final_values, objectives_of, pareto_front, parse_where, pick, write_picked
from hwk4tune.spec import SpecError, load_space, load_sweep

SPACE = """\
trainable: cnn
dataset: {name: digits, subset: 300}
%(goal)s
max_epochs: 2
space:
  optimizer: adam
  lr: {loguniform: [1.0e-3, 0.05]}
  hidden: {choice: [4, 8, 16, 64, 128]}
  batch_size: 64
"""
TWO = "objectives:\n  - {metric: val_accuracy, mode: max}\n  - {metric: num_params, mode: min}"


def _files(tmp_path, goal=TWO, sweep="searcher: random\n"):
    (tmp_path / "space.yaml").write_text(SPACE % {"goal": goal})
    path = tmp_path / "sweep.yaml"
    path.write_text("space: space.yaml\n" + textwrap.dedent(sweep))
    return path


# ------------------------------------------------------------------------------------------ spec rules


def test_metric_and_objectives_both_is_a_located_error(tmp_path):
    _files(tmp_path, goal="metric: val_accuracy\n" + TWO)
    with pytest.raises(SpecError) as e:
        load_space(tmp_path / "space.yaml")
    assert [str(p) for p in e.value.problems] == [
        f"{tmp_path / 'space.yaml'}:3: metric: give either metric/mode or objectives, not both"]


def test_objective_the_trainable_does_not_report(tmp_path):
    _files(tmp_path, goal="objectives:\n  - {metric: val_accuracy, mode: max}\n  - {metric: num_param, mode: min}")
    with pytest.raises(SpecError) as e:
        load_space(tmp_path / "space.yaml")
    (problem,) = e.value.problems
    assert problem.line == 5 and problem.key == "objectives.1.metric" and "num_params" in problem.message


def test_single_objective_space_unchanged(tmp_path):
    _files(tmp_path, goal="metric: val_loss\nmode: min")
    spec = load_space(tmp_path / "space.yaml")
    assert (spec.metric, spec.mode, spec.objectives) == ("val_loss", "min", None)


def test_objectives_set_metric_to_the_first(tmp_path):
    spec = load_space(_files(tmp_path).parent / "space.yaml")
    assert (spec.metric, spec.mode) == ("val_accuracy", "max")
    assert [(o.metric, o.mode) for o in spec.objectives] == [("val_accuracy", "max"), ("num_params", "min")]


@pytest.mark.parametrize("sweep, line, key, words", [
    ("searcher: random\nscheduler: asha\n", 3, "scheduler", "stops or clones trials by one metric"),
    ("searcher: random\nscheduler: {name: pbt}\n", 3, "scheduler", "use scheduler: fifo"),
    ("searcher: hyperopt\n", 2, "searcher", "hyperopt optimizes one metric"),
    ("searcher: {name: nevergrad}\n", 2, "searcher", "nevergrad optimizes one metric"),
    ("searcher:\n  name: optuna\n  sampler: cmaes\n", 4, "searcher.sampler", "cmaes sampler optimizes one objective"),
])
def test_who_cannot_do_several_objectives(tmp_path, sweep, line, key, words):
    path = _files(tmp_path, sweep=sweep)
    with pytest.raises(SpecError) as e:
        load_sweep(path)
    problems = [p for p in e.value.problems if p.key == key]
    assert len(problems) == 1 and problems[0].line == line and words in problems[0].message, e.value.problems


@pytest.mark.parametrize("searcher", ["random", "{name: optuna, sampler: nsga2}", "{name: optuna, sampler: tpe}"])
def test_who_can(tmp_path, searcher):
    spec = load_sweep(_files(tmp_path, sweep=f"searcher: {searcher}\nscheduler: fifo\n"))
    assert spec.space.objectives and spec.scheduler.name == "fifo"


# ------------------------------------------------------------------------------------------ where / pick


@pytest.mark.parametrize("text, parsed", [("val_accuracy>=0.98", ("val_accuracy", ">=", 0.98)),
                                          (" num_params < 1e5 ", ("num_params", "<", 1e5)),
                                          ("latency_ms==-2.5", ("latency_ms", "==", -2.5))])
def test_parse_where(text, parsed):
    c = parse_where(text)
    assert (c.metric, c.op, c.value) == parsed


@pytest.mark.parametrize("text", ["val_accuracy=>0.9", "val_accuracy>=", "__import__('os')>1", "a>=1 or 1",
                                  ">=0.9", ""])
def test_bad_where_is_one_line(text):
    with pytest.raises(ResultsError) as e:
        parse_where(text)
    assert "\n" not in str(e.value) and "METRIC OP NUMBER" in str(e.value)


def test_pick_among_the_front():
    import pandas as pd

    objectives = [("val_accuracy", "max"), ("num_params", "min")]
    front = pd.DataFrame({"trial_id": ["a", "b", "c", "d"], "epoch": [2, 2, 2, 2],
                          "val_accuracy": [0.99, 0.97, 0.90, 0.97], "num_params": [9000, 3000, 500, 2000]})
    assert pick(front, objectives)["trial_id"] == "a"
    assert pick(front, objectives, "num_params")["trial_id"] == "c"
    where = [parse_where("val_accuracy>=0.95")]
    assert pick(front, objectives, "num_params", where)["trial_id"] == "d"  # ties on accuracy: fewer params
    assert pick(front, objectives, "val_accuracy", [parse_where("num_params<3000")])["trial_id"] == "d"
    with pytest.raises(ResultsError, match="meets"):
        pick(front, objectives, None, [parse_where("val_accuracy>0.995")])
    with pytest.raises(ResultsError, match="not an objective"):
        pick(front, objectives, "val_loss")


# ------------------------------------------------------------------------------------------ hypervolume


def test_hypervolume_known_answers():
    assert hypervolume([[1, 2], [2, 1]], [3, 3]) == pytest.approx(3.0)  # two 2x1 boxes overlapping in 1x1
    assert hypervolume([[1, 1]], [3, 3]) == pytest.approx(4.0)
    assert hypervolume([[1, 1], [2, 2]], [3, 3]) == pytest.approx(4.0)  # a dominated point adds nothing
    assert hypervolume([[4, 0]], [3, 3]) == 0.0  # beyond the reference
    assert hypervolume([[1, 1, 1]], [2, 3, 4]) == pytest.approx(6.0)
    # 3-D staircase: unit cubes at (0,0,1),(0,1,0),(1,0,0) to reference 2: 8 - (1 + 1 + 1 + 1 + ... ) by
    # inclusion-exclusion: 3 boxes of volume 4 (2x2x1), pairwise overlaps 2 (2x1x1... ) -> 4*3 - 2*3 + 1 = 7
    assert hypervolume([[0, 0, 1], [0, 1, 0], [1, 0, 0]], [2, 2, 2]) == pytest.approx(7.0)
    # max/min mixed: accuracy (max) against parameters (min), reference (0, 200)
    assert hypervolume([[0.9, 100], [0.8, 50]], [0, 200], ["max", "min"]) == pytest.approx(130.0)


def test_hypervolume_matches_optuna():
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(0)
    for k in (2, 3):
        pts = rng.random((15, k))
        ref = np.full(k, 1.1)
        assert hypervolume(pts, ref) == pytest.approx(compute_hypervolume(pts, ref))


def test_hypervolume_curve_and_reference():
    values = np.array([[0.5, 100.0], [0.9, 300.0], [0.7, 50.0]])
    ref = derived_reference(values, ["max", "min"])
    assert ref == [0.5, 300.0]
    curve = hypervolume_curve(values, ref, ["max", "min"])
    assert list(curve) == pytest.approx([0.0, 0.0, 0.2 * 250])
    assert np.all(np.diff(curve) >= 0)


# ------------------------------------------------------------------------------------------ a real sweep


def _brute_force_front(values, objectives):
    """Trials no other trial beats or equals in every objective while beating in one, pair by pair."""
    rows = values.to_dict("records")
    front = []
    for r in rows:
        dominated = False
        for o in rows:
            if o is r:
                continue
            ge = all((o[m] >= r[m]) if md == "max" else (o[m] <= r[m]) for m, md in objectives)
            gt = any((o[m] > r[m]) if md == "max" else (o[m] < r[m]) for m, md in objectives)
            dominated = dominated or (ge and gt)
        if not dominated:
            front.append(r["trial_id"])
    return sorted(front)


@pytest.fixture(scope="module")
def nsga2_experiment(ray_local, tmp_path_factory):
    from hwk4tune.sweep import run_sweep

    tmp = tmp_path_factory.mktemp("mo")
    path = _files(tmp, sweep="searcher: {name: optuna, sampler: nsga2, population_size: 3, seed: 1}\n"
                             "scheduler: fifo\nnum_samples: 7\nmax_concurrent_trials: 2\n")
    return run_sweep(load_sweep(path), storage=str(tmp / "runs"), name="mo")  # default output on


@pytest.mark.newest
def test_sweep_front_matches_brute_force(nsga2_experiment):
    exp = load_experiment(nsga2_experiment)
    objectives = objectives_of(exp)
    assert objectives == [("val_accuracy", "max"), ("num_params", "min")]
    assert len(exp.trials) == 7 and set(exp.trials["status"]) == {"TERMINATED"}
    # the optuna searcher holds the space: its constants still reach every trial
    assert all(c.get("optimizer") == "adam" and c.get("batch_size") == 64 for c in exp.configs.values())
    values = final_values(exp, objectives)
    assert set(values["epoch"]) == {2}  # FIFO: every trial's last epoch is max_epochs
    # num_params is the CNN's trainable parameters: the hidden layer's width decides it
    sizes = exp.trials.set_index("trial_id")["config/hidden"]
    by_hidden = values.set_index("trial_id")["num_params"]
    assert all((by_hidden[a] < by_hidden[b]) == (sizes[a] < sizes[b]) for a in sizes.index for b in sizes.index
               if sizes[a] != sizes[b])
    front = pareto_front(exp)
    assert sorted(front["trial_id"]) == _brute_force_front(values, objectives)
    assert list(front["val_accuracy"]) == sorted(front["val_accuracy"], reverse=True)
    # measured once per trial (a forward pass of 256 images), reported with every epoch: one value per trial
    latency = exp.history.groupby("trial_id")["latency_ms"]
    assert latency.nunique().eq(1).all() and len(latency) == 7 and exp.history["latency_ms"].gt(0).all()


def test_best_pick_and_where_cli(nsga2_experiment, tmp_path):
    exp = load_experiment(nsga2_experiment)
    front = pareto_front(exp)
    objectives = objectives_of(exp)
    smallest = front.sort_values(["num_params", "val_accuracy"], ascending=[True, False]).iloc[0]
    out = tmp_path / "pick" / "best.yaml"
    run = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "best", str(nsga2_experiment), "-o", str(out),
                          "--pick", "num_params"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    best = yaml.safe_load(out.read_text())
    assert best["best"]["trial_id"] == smallest["trial_id"] and best["metric"] == "num_params"
    assert best["config"]["hidden"] == exp.configs[smallest["trial_id"]]["hidden"]
    assert (out.parent / "pareto.csv").exists() and "Pareto front" in (out.parent / "pareto.md").read_text()
    # --where keeps the front rows at least as accurate as the median of the front, then the smallest of those
    bar = float(np.median(front["val_accuracy"]))
    expected = front[front["val_accuracy"] >= bar].sort_values(["num_params", "val_accuracy"],
                                                                ascending=[True, False]).iloc[0]
    row, _, _ = write_picked(exp, tmp_path / "w" / "best.yaml", "num_params", [f"val_accuracy>={bar}"])
    assert row["trial_id"] == expected["trial_id"]
    assert pick(front, objectives, "num_params", [parse_where(f"val_accuracy>={bar}")])["trial_id"] == row["trial_id"]
    bad = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "best", str(nsga2_experiment), "-o", str(out),
                          "--where", "val_accuracy=>0.9"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "METRIC OP NUMBER" in bad.stderr
    table = subprocess.run([sys.executable, "-m", "hwk4tune.cli", "table", "--pareto", str(nsga2_experiment)],
                           capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert len(table.stdout.strip().splitlines()) == 2 + len(front)


def test_hypervolume_over_the_budget(nsga2_experiment):
    from hwk4tune.results.pareto import hypervolume_history

    exp = load_experiment(nsga2_experiment)
    objectives = objectives_of(exp)
    values = final_values(exp, objectives)[["val_accuracy", "num_params"]].to_numpy(dtype=float)
    reference = [0.0, 1e6]
    curve = hypervolume_history(exp, objectives, reference)
    assert len(curve) == len(exp.history) and np.all(np.diff(curve["best"]) >= 0)
    assert curve["best"].iloc[-1] == pytest.approx(hypervolume(values, reference, ["max", "min"]))
    assert curve["best"].iloc[-1] > 0


@pytest.mark.parametrize("reference, words", [("{val_accuracy: 0}", "one value per objective"),
                                              ("{val_accuracy: 0, num_params: 1.0e+6}", None)])
def test_compare_reference_point(tmp_path, reference, words):
    _files(tmp_path)
    path = tmp_path / "compare.yaml"
    path.write_text("space: space.yaml\nbudget: {num_samples: 4}\nstrategies:\n  r: {searcher: random}\n"
                    f"reference_point: {reference}\n")
    from hwk4tune.spec import load_compare

    if words is None:
        assert load_compare(path).reference_point == {"val_accuracy": 0.0, "num_params": 1e6}
        return
    with pytest.raises(SpecError) as e:
        load_compare(path)
    (problem,) = e.value.problems
    assert problem.key == "reference_point" and problem.line == 5 and words in problem.message
