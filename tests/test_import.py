"""`hwk4tune import wandb|katib`: a corpus of files modelled on public examples (tests/data/import/), each
imported, accepted by the validator, with a note for every key it could not map (each file lists the keys
it expects notes for, as `# expect-note: KEY` lines); the exact numbers of the mappings; exit 2 only for a
file that is not such a sweep; and (slow) every imported sweep run for real, 2 trials of 1 epoch each."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from hwk4tune.cli import main
from hwk4tune.importers import import_file
from hwk4tune.spec import load_sweep

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
    spec.space.space.to_tune()  # and Ray Tune takes every domain (its quantized ranges are stricter)
    for key in expected_notes(path):
        assert any(f": {key}: " in note for note in result.notes), f"no note for {key}:\n" + "\n".join(result.notes)
    assert all(note.startswith(f"{path}: ") for note in result.notes)
    header = result.sweep_file.read_text().split("\nspace:")[0]
    assert all(n.split(": ", 1)[1] in header for n in result.notes)  # the notes travel with the files


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


@pytest.mark.slow
def test_every_imported_sweep_runs(ray_local, tmp_path):
    from hwk4tune.sweep import run_sweep
    from hwk4tune.sweep.final_summary import planned_trials

    ran = []
    for fmt, path in FILES:
        out = tmp_path / fmt / path.stem
        result = import_file(fmt, path, out)
        over = _overrides(yaml.safe_load(result.sweep_file.read_text()),
                          yaml.safe_load(result.space_file.read_text()))
        spec = load_sweep(result.sweep_file, over)
        exp = Path(run_sweep(spec, storage=str(tmp_path / "runs"), name=f"{fmt}-{path.stem}", verbose=False))
        trials = sorted(exp.glob("trial_*"))
        assert len(trials) == planned_trials(spec), path
        assert not list(exp.glob("trial_*/error.txt")), f"{path}: a trial failed"
        assert all((t / "result.json").read_text().strip() for t in trials), path
        ran.append(path.name)
    assert len(ran) == len(FILES)
