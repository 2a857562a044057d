"""Small real experiments shared by test_results, test_compare and test_report: each is built once per test
session (on the session's Ray) and reused, because a sweep costs seconds even on digits."""

from __future__ import annotations

from pathlib import Path

import yaml

_BUILT: dict[str, Path] = {}
HUGE = 2**40

SPACE = {
    "trainable": "cnn",
    "dataset": {"name": "digits", "subset": 300},
    "metric": "val_accuracy",
    "mode": "max",
    "max_epochs": 2,
    "space": {"optimizer": "adam", "lr": 0.003, "batch_size": 32,  # at 0.01 Adam stalls at chance for some seeds
              # a valid value whose model cannot be built (2**40 hidden units: petabytes of weights) fails its
              # trial at run time: the tables must show that trial's error
              "hidden": {"grid": [32, 64, HUGE]}},
}


def small_sweep(tmp_path_factory) -> Path:
    """grid over hidden (one value fails) x fifo, 2 epochs, digits subset 300: 3 trials, one ERROR."""
    if "sweep" not in _BUILT:
        from hwk4tune.spec import load_sweep
        from hwk4tune.sweep import run_sweep

        root = tmp_path_factory.mktemp("sweep")
        (root / "space.yaml").write_text(yaml.safe_dump(SPACE))
        (root / "sweep.yaml").write_text(yaml.safe_dump({
            "space": "space.yaml", "searcher": "grid", "scheduler": "fifo", "num_samples": 1,
            "max_concurrent_trials": 2, "max_failures": 0}))
        spec = load_sweep(root / "sweep.yaml")
        _BUILT["sweep"] = run_sweep(spec, storage=str(root / "runs"), name="small", verbose=False)
    return _BUILT["sweep"]


COMPARE = {
    "space": {**SPACE, "max_epochs": 3,
              "space": {"optimizer": "adam", "hidden": 32, "lr": {"loguniform": [1.0e-3, 3.0e-2]},
                        "batch_size": {"choice": [32, 64]}}},
    "budget": {"num_samples": 6},
    "seeds": [0, 1],
    "max_concurrent_trials": 2,
    "strategies": {
        "random+fifo": {"searcher": "random", "scheduler": "fifo"},
        "random+asha": {"searcher": "random", "scheduler": {"name": "asha", "grace_period": 1}},
    },
}


def compare_file(root: Path) -> Path:
    path = root / "compare.yaml"
    path.write_text(yaml.safe_dump(COMPARE, sort_keys=False))
    return path


def small_comparison(tmp_path_factory) -> Path:
    """random+fifo vs random+asha, 2 seeds, 6 trials x 3 epochs on digits subset 300 (about 40 s)."""
    if "compare" not in _BUILT:
        from hwk4tune.compare import run_compare
        from hwk4tune.spec import load_compare

        root = tmp_path_factory.mktemp("compare")
        spec = load_compare(compare_file(root))
        _BUILT["compare"] = run_compare(spec, root / "out", verbose=False).out
    return _BUILT["compare"]
