"""`hwk4tune import wandb|katib`: a corpus of files modelled on public examples (tests/data/import/), each
imported, accepted by the validator, with a note for every key it could not map (each file lists the keys
it expects notes for, as `# expect-note: KEY` lines); the exact numbers of the mappings; exit 2 only for a
file that is not such a sweep; and (slow) every imported sweep's searcher and scheduler built, a sweep of 2 trials
of 1 epoch for each distinct mapping (each trainable and data set trained for real once)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sleeping
import yaml

from hwk4tune.cli import main
from hwk4tune.importers import import_file
from hwk4tune.spec import load_sweep
from hwk4tune.tune.search_space import tune_param_space

CORPUS = Path(__file__).parent / "data" / "import"
FILES = [(fmt, p) for fmt in ("wandb", "katib") for p in sorted((CORPUS / fmt).glob("*.yaml"))]


def expected_notes(path: Path) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
            if line.startswith("# expect-note:")]


def imported(fmt: str, name: str, tmp: Path) -> tuple[dict, dict, list[str]]:
    result = import_file(fmt, CORPUS / fmt / name, tmp)
    return (yaml.safe_load(result.space_file.read_text()), yaml.safe_load(result.sweep_file.read_text()),
            result.notes)


def test_corpus_size():
    assert len([f for f in FILES if f[0] == "wandb"]) >= 15 and len([f for f in FILES if f[0] == "katib"]) >= 8


@pytest.mark.parametrize("fmt, path", FILES, ids=[f"{f}/{p.stem}" for f, p in FILES])
def test_import_validates_and_notes_every_unmapped_key(fmt, path, tmp_path):
    result = import_file(fmt, path, tmp_path / "out")
    spec = load_sweep(result.sweep_file)  # the validator accepts it (SpecError otherwise)
    assert spec.space.source == result.space_file
    tune_param_space(spec.space.space)  # and Ray Tune takes every domain (its quantized ranges are stricter)
    for key in expected_notes(path):
        assert any(f": {key}: " in note for note in result.notes), f"no note for {key}:\n" + "\n".join(result.notes)
    assert all(note.startswith(f"{path}: ") for note in result.notes)
    header = result.sweep_file.read_text().split("\nspace:")[0]
    assert all(n.split(": ", 1)[1] in header for n in result.notes)  # the notes travel with the files


@pytest.mark.newest
def test_wandb_distributions_exact(tmp_path):
    space, sweep, _ = imported("wandb", "04_log_uniform_natural.yaml", tmp_path)
    low, high = space["space"]["lr"]["loguniform"]
    assert low == pytest.approx(math.exp(-9.21), rel=1e-5) and high == pytest.approx(math.exp(-4.61), rel=1e-5)
    assert sweep["searcher"] == {"name": "optuna", "sampler": "tpe"}
    space, _, _ = imported("wandb", "07_inv_log_uniform.yaml", tmp_path / "b")
    assert space["space"]["lr"]["loguniform"] == pytest.approx([math.exp(-9.2), math.exp(-2.3)], rel=1e-5)
    assert space["space"]["weight_decay"] == {"loguniform": [1e-5, 1e-3]}
    space, _, _ = imported("wandb", "05_log_uniform_values_quirk.yaml", tmp_path / "c")
    assert space["space"]["lr"] == {"loguniform": [1e-5, 1e-2]}  # `1e-5` (text in YAML 1.1) and `!!float 1e-2`
    assert "weight_decay" not in space["space"]  # unknown distribution: left out, with its note
    space, sweep, _ = imported("wandb", "03_grid_values.yaml", tmp_path / "d")
    assert sweep["searcher"] == {"name": "grid"} and sweep["num_samples"] == 1
    assert space["space"]["hidden"] == {"grid": [128, 256]} and space["max_epochs"] == 1
    space, _, _ = imported("wandb", "13_int_bounds_float.yaml", tmp_path / "e")
    assert space["space"]["dropout"] == {"uniform": [0.0, 0.9]} and space["space"]["batch_size"] == {"randint": [10, 40]}
    assert space["space"]["l1"] == {"uniform": [0.0, 0.75]}
    space, _, _ = imported("wandb", "12_nested.yaml", tmp_path / "f")
    assert space["space"]["optimizer"] == {"choice": ["adam", "sgd"]} and "beta1" not in space["space"]


def test_wandb_hyperband_numbers(tmp_path):
    space, sweep, _ = imported("wandb", "10_hyperband_min_iter.yaml", tmp_path)
    assert sweep["scheduler"] == {"name": "asha", "grace_period": 3, "reduction_factor": 3}
    assert space["max_epochs"] == 27
    space, sweep, _ = imported("wandb", "11_hyperband_max_iter.yaml", tmp_path / "b")
    assert sweep["scheduler"] == {"name": "asha", "grace_period": 3, "reduction_factor": 3}  # 27 / 3^2
    assert space["max_epochs"] == 27 and sweep["num_samples"] == 12


@pytest.mark.newest
def test_katib_numbers_and_algorithms(tmp_path):
    space, sweep, notes = imported("katib", "01_random_mnist.yaml", tmp_path)
    assert space["space"] == {"lr": {"uniform": [0.01, 0.05]}, "momentum": {"uniform": [0.5, 0.9]}}
    assert space["metric"] == "val_loss" and space["mode"] == "min" and space["dataset"]["name"] == "mnist"
    assert sweep["num_samples"] == 12 and sweep["max_concurrent_trials"] == 3
    space, sweep, _ = imported("katib", "02_grid.yaml", tmp_path / "b")
    assert space["space"]["lr"] == {"grid": [0.001, 0.004, 0.007, 0.01]} and sweep["searcher"] == {"name": "grid"}
    space, sweep, _ = imported("katib", "03_tpe.yaml", tmp_path / "c")
    assert sweep["searcher"] == {"name": "optuna", "sampler": "tpe", "seed": 10}
    assert space["space"]["batch_size"] == {"qrandint": [32, 128, 32]}
    _, sweep, _ = imported("katib", "05_cmaes.yaml", tmp_path / "d")
    assert sweep["searcher"] == {"name": "optuna", "sampler": "cmaes", "seed": 10}
    _, sweep, _ = imported("katib", "07_sobol_discrete.yaml", tmp_path / "e")
    assert sweep["searcher"]["sampler"] == "qmc"
    space, sweep, _ = imported("katib", "08_hyperband.yaml", tmp_path / "f")
    assert sweep["scheduler"] == {"name": "hyperband", "reduction_factor": 3} and space["max_epochs"] == 9
    _, sweep, _ = imported("katib", "09_pbt.yaml", tmp_path / "g")
    assert sweep["scheduler"]["name"] == "pbt" and sweep["scheduler"]["quantile_fraction"] == 0.3
    assert sweep["num_samples"] == 4
    _, sweep, _ = imported("katib", "10_medianstop.yaml", tmp_path / "h")
    assert sweep["scheduler"] == {"name": "median", "min_samples_required": 2, "grace_period": 1}
    space, _, _ = imported("katib", "11_normal.yaml", tmp_path / "i")
    assert space["space"]["momentum"]["normal"] == pytest.approx([0.89, 0.03])


@pytest.mark.parametrize("fmt, text", [
    ("wandb", "- just\n- a list\n"),
    ("wandb", "method: random\nmetric: {name: loss}\n"),  # no parameters
    ("katib", "method: random\nparameters: {lr: {min: 0.1, max: 1}}\n"),  # a W&B file given as katib
    ("katib", "apiVersion: kubeflow.org/v1beta1\nkind: Experiment\nspec: {algorithm: {algorithmName: darts}}\n"),
    ("wandb", "parameters: {lr: [unclosed\n"),
])
def test_not_a_sweep_exits_2(fmt, text, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["import", fmt, str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]
    assert not (tmp_path / "out").exists()


def test_cli_prints_notes_and_exits_0(tmp_path, capsys):
    assert main(["import", "wandb", str(CORPUS / "wandb" / "02_random_validation.yaml"), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "note: " in out.err and "parameters.epochs" in out.err
    assert f"wrote {tmp_path / 'sweep.yaml'}" in out.out
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 0


def _overrides(sweep: dict, space: dict) -> dict:
    """2 trials of 1 epoch on a small data set (a grid runs each of its points once instead)."""
    over = {"max_epochs": 1, "max_concurrent_trials": 2,
            "dataset.name": "fake" if space["trainable"] == "resnet" else "digits", "dataset.subset": 120}
    if sweep["searcher"]["name"] != "grid":
        over["num_samples"] = 2
    if sweep["scheduler"]["name"] == "asha":
        over["scheduler.grace_period"] = 1
    return over


def _draw(node):
    """One config from Ray Tune domains, as a searcher would draw it (a grid: one of its values)."""
    import random

    from ray.tune.search.sample import Domain

    if isinstance(node, Domain):
        return node.sample()
    if isinstance(node, dict):
        return random.choice(node["grid_search"]) if set(node) == {"grid_search"} else {
            k: _draw(v) for k, v in node.items()}
    return node


def _mapping(spec) -> tuple:
    """What decides the Ray objects an imported sweep builds: two files alike here run the same searcher and
    scheduler code, so one of them runs a sweep and the others build their searcher and scheduler only."""
    s = spec.searcher
    return (s.name, getattr(s, "sampler", None), getattr(s, "optimizer", None), spec.scheduler.name,
            spec.space.space.conditional, bool(spec.space.objectives), bool(spec.stop))


def _training(spec) -> tuple:
    """What decides the training an imported sweep runs: its trainable on its data set."""
    return spec.space.trainable, spec.space.dataset.name if spec.space.dataset else None


def _stand_in(result, over: dict):
    """The imported sweep with its trainable replaced by the stand-in that declares the same hyperparameter
    model (tests/sleeping.py): validated as the real one, and each trial checks the config it is handed with
    the real trainable's ``from_config``; no torch, no data."""
    space = yaml.safe_load(result.space_file.read_text())
    space["trainable"] = f"{sleeping.FILE}:{space['trainable']}"
    space.pop("dataset", None)
    result.space_file.write_text(yaml.safe_dump(space, sort_keys=False))
    return load_sweep(result.sweep_file, {k: v for k, v in over.items() if not k.startswith("dataset.")})


@pytest.mark.slow
def test_every_imported_sweep_runs(ray_local, tmp_path):
    """Every imported file's searcher and scheduler build; each distinct trainable and data set trains for
    real once (2 trials of 1 epoch), and each other distinct searcher/scheduler mapping runs a sweep on the
    stand-in trainable (27 files ran in a row for real before, 108-296 s)."""
    from hwk4tune.sweep import run_sweep
    from hwk4tune.sweep.final_summary import planned_trials
    from hwk4tune.tune.strategies import StrategyArgs, build_strategy

    ran, trained, built = {}, {}, []
    for fmt, path in FILES:
        out = tmp_path / fmt / path.stem
        result = import_file(fmt, path, out)
        over = _overrides(yaml.safe_load(result.sweep_file.read_text()),
                          yaml.safe_load(result.space_file.read_text()))
        spec = load_sweep(result.sweep_file, over)
        search_alg, scheduler = build_strategy(StrategyArgs.from_sweep(spec))  # what Tune is handed
        assert search_alg is not None and scheduler is not None, path
        built.append(path.name)
        mapping, training = _mapping(spec), _training(spec)
        if training in trained and mapping in ran:  # the trainable takes what the space draws, as a trial checks
            for _ in range(20):
                spec.space.entry.hyperparameters.from_config(_draw(tune_param_space(spec.space.space)))
            continue
        real = training not in trained
        run = spec if real else _stand_in(result, over)
        exp = Path(run_sweep(run, storage=str(tmp_path / "runs"), name=f"{fmt}-{path.stem}"))  # default output
        trials = sorted(exp.glob("trial_*"))
        assert len(trials) == planned_trials(spec) == planned_trials(run), path
        assert not list(exp.glob("trial_*/error.txt")), f"{path}: a trial failed"
        assert all((t / "result.json").read_text().strip() for t in trials), path
        ran[mapping] = path.name
        if real:
            trained[training] = path.name
    assert len(built) == len(FILES)
    assert len(ran) >= 8, ran  # searchers x schedulers the corpus covers
    assert set(trained) == {("cnn", "digits"), ("resnet", "fake")}, trained


def _extreme_cases() -> list[tuple[str, str, dict]]:
    """(distribution, case, its keys) for every W&B distribution the importer knows, at extreme bounds: huge,
    beyond a float, tiny, negative where illegal, min > max, not a number, and q or sigma likewise."""
    from hwk4tune.importers.wandb import DISTRIBUTIONS

    bounds = {"huge": (1, 1e308), "beyond_float": (1, math.inf), "huge_both": (-1e308, 1e308),
              "huge_ints": (-10**308, 10**308), "int_beyond_float": (1, 10**400), "tiny": (1e-320, 1e-310),
              "negative": (-10, -1), "min_over_max": (5, 1), "equal": (2, 2), "nan": (math.nan, 1),
              "beyond_e": (-1000, 1000), "large": (1e3, 1e300)}
    qs = {"q_huge": 1e308, "q_tiny": 1e-320, "q_zero": 0, "q_negative": -1, "q_inf": math.inf}
    normal = {"mu_huge": (1e308, 1), "mu_inf": (math.inf, 1), "mu_nan": (math.nan, 1), "sigma_huge": (1, 1e308),
              "sigma_tiny": (1, 1e-320), "sigma_negative": (1, -1), "sigma_zero": (1, 0), "beyond_e": (700, 300)}
    cases = []
    for dist in DISTRIBUTIONS:
        if dist == "constant":
            cases += [(dist, f"value_{v}", {"value": v}) for v in (1e308, math.inf, -1e308, 1e-320, math.nan, 10**400)]
        elif dist == "categorical":
            cases.append((dist, "values", {"values": [1e308, -1e308, 1e-320, math.inf, math.nan, 10**400]}))
        elif "normal" in dist:
            cases += [(dist, name, {"mu": mu, "sigma": s}) for name, (mu, s) in normal.items()]
            if "log" in dist:  # a negative mean is W&B's and our business for log-normals only
                cases.append((dist, "mu_negative_huge", {"mu": -1e308, "sigma": 1}))
            if dist.startswith("q_"):
                cases += [(dist, name, {"mu": 1, "sigma": 0.5, "q": q}) for name, q in qs.items()]
        else:
            cases += [(dist, name, {"min": lo, "max": hi}) for name, (lo, hi) in bounds.items()]
            if dist.startswith("q_"):
                cases += [(dist, name, {"min": 1, "max": 5, "q": q}) for name, q in qs.items()]
    return cases


EXTREME = [(method, *case) for method in ("random", "grid") for case in _extreme_cases()]


@pytest.mark.parametrize("method, dist, case, keys", EXTREME, ids=[f"{m}-{d}-{c}" for m, d, c, _ in EXTREME])
def test_wandb_extreme_bounds_convert_or_exit_2(method, dist, case, keys, tmp_path, capsys):
    """`hwk4tune import wandb` as a user runs it: a conversion `hwk4tune validate` accepts (the parameter kept
    or left out with a note naming the file and key), or one line and exit 2; never a traceback.
    weight_decay (>= 0, no upper bound) takes the widest range of our hyperparameters."""
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"method": method, "metric": {"name": "val_accuracy", "goal": "maximize"},
                                    "run_cap": 2, "parameters": {"weight_decay": {"distribution": dist, **keys},
                                                                 "optimizer": {"values": ["adam", "sgd"]}}}))
    code = main(["import", "wandb", str(path), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "weight_decay" in lines[0], err
        return
    assert code == 0, err
    spec = load_sweep(tmp_path / "out" / "sweep.yaml")  # SpecError if the validator refused it
    tune_param_space(spec.space.space)
    space = yaml.safe_load((tmp_path / "out" / "space.yaml").read_text())["space"]
    if space.get("weight_decay") is None:  # left out: a note says so, naming the file and the key
        assert f"note: {path}: parameters.weight_decay: " in err, err
    for value in _numbers(space.get("weight_decay")):
        assert math.isfinite(value), space


def _numbers(dsl) -> list[float]:
    args = next(iter(dsl.values())) if isinstance(dsl, dict) else [dsl] if dsl is not None else []
    return [float(v) for v in args if isinstance(v, (int, float)) and not isinstance(v, bool)]


def test_wandb_large_inv_log_uniform_values(tmp_path):
    """The bounds are the values' own (no e^ of them): large ones convert exactly, as small ones do."""
    path = tmp_path / "sweep.yaml"
    path.write_text("method: random\nparameters:\n  weight_decay: {distribution: inv_log_uniform_values, "
                    "min: 1000, max: 1.0e+300}\n  lr: {distribution: inv_log_uniform_values, min: 1.0e-300, max: 800}\n")
    assert main(["import", "wandb", str(path), "-o", str(tmp_path / "out")]) == 0
    space = yaml.safe_load((tmp_path / "out" / "space.yaml").read_text())["space"]
    assert space["weight_decay"] == {"loguniform": [1000.0, 1e300]} and space["lr"] == {"loguniform": [1e-300, 800.0]}


def _source_names(fmt: str, data: dict) -> tuple[list[tuple[str, str]], tuple[str, object]]:
    """(note key, name as written) of every parameter of an imported file, and (note key, metric name)."""
    if fmt == "katib":
        params = [(f"spec.parameters.{i}({p['name']})", str(p["name"])) for i, p in enumerate(data["spec"]["parameters"])]
        return params, ("spec.objective.objectiveMetricName", (data["spec"].get("objective") or {}).get(
            "objectiveMetricName"))

    def leaves(group: dict, prefix: str):
        for name, spec in group.items():
            key = f"{prefix}.{name}"
            if isinstance(spec, dict) and isinstance(spec.get("parameters"), dict):
                yield from leaves(spec["parameters"], f"{key}.parameters")
            else:
                yield key, str(name)

    metric = data.get("metric") if isinstance(data.get("metric"), dict) else {}
    return list(leaves(data["parameters"], "parameters")), ("metric.name", metric.get("name"))


@pytest.mark.parametrize("fmt, path", FILES, ids=[f"{f}/{p.stem}" for f, p in FILES])
def test_every_rename_is_noted(fmt, path, tmp_path):
    """Issue 31: `import wandb` renamed val_acc -> val_accuracy and epochs -> max_epochs silently. Every name the
    files write that differs from the source's gets `FILE: KEY: ... renamed to NEW`: each parameter is kept
    under its own name, renamed (noted), or left out (noted); each name of space.yaml is a source name or
    the target of a rename note; a metric written under another name is noted."""
    space, _, notes = imported(fmt, path.name, tmp_path)
    params, (metric_key, metric) = _source_names(fmt, yaml.safe_load(path.read_text()))
    written = set(space["space"])

    def notes_at(key: str) -> list[str]:
        return [n.split(": ", 2)[2] for n in notes if n.split(": ", 2)[1] in (key, *(f"{key}.{k}" for k in
                                                                                  ("distribution", "values")))]

    targets = set()
    for key, name in params:
        if name in written:
            continue
        said = notes_at(key) + notes_at(name)  # a hyperparameter the trainable then refused: noted under its name
        renamed = [n.split("renamed to ", 1)[1].split()[0].rstrip(":") for n in said if "renamed to " in n]
        assert renamed or any("left out" in n or "ignored" in n for n in said), f"{key} ({name}): {said}"
        targets.update(renamed)
        for new in renamed:
            assert new in written or new == "max_epochs" or any("left out" in n for n in notes_at(new)), (key, new)
    kept = {name for _, name in params}
    assert written <= kept | targets, f"written without a note: {written - kept - targets}"
    if metric is not None and metric != space["metric"]:
        assert any(f"{metric!r} renamed to {space['metric']}" in n for n in notes_at(metric_key)), notes


def test_wandb_val_acc_and_epochs_renames_are_noted(tmp_path, capsys):
    """The issue's file: both renames print a note naming the file, the key and the new name."""
    path = tmp_path / "sweep.yaml"
    path.write_text("method: random\nmetric: {name: val_acc, goal: maximize}\nparameters:\n"
                    "  epochs: {value: 5}\n  LR: {min: 0.001, max: 0.1}\n  dropout: {values: [0.1, 0.2]}\n")
    assert main(["import", "wandb", str(path), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"note: {path}: metric.name: 'val_acc' renamed to val_accuracy" in err
    assert f"note: {path}: parameters.epochs: renamed to max_epochs 5: " in err
    assert f"note: {path}: parameters.LR: renamed to lr" in err
    assert "parameters.dropout:" not in err  # kept under its own name: nothing to say
    space = yaml.safe_load((tmp_path / "out" / "space.yaml").read_text())
    assert space["metric"] == "val_accuracy" and space["max_epochs"] == 5 and set(space["space"]) == {"lr", "dropout"}
