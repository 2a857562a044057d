"""Makes tests/data/replay_decisions/actor_replay.json: the decisions of the Ray-actor replay
(`hwk4tune.tune.replay_trainable`: Ray Tune's own controller, each trial a Ray actor sleeping its recorded
seconds / speedup) at max_concurrent_trials 1, for tests/test_simulated_replay.py to hold the discrete-event
replay (`hwk4tune.tune.simulated_replay`) to. About a minute, with Ray:

    .venv/bin/python tests/data/replay_decisions/make.py OUT_FOLDER

The file in the repository was made at fa9e002 (before the simulation existed), through `hwk4tune compare`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TABLES = ROOT / "benchmarks" / "tables"
PBT = {"name": "pbt", "perturbation_interval": 2,
       "hyperparam_mutations": {"lr": {"loguniform": [1.0e-4, 0.3]}, "dropout": {"uniform": [0.0, 0.6]}}}
STRATEGIES = {
    "random+fifo": {"searcher": "random", "scheduler": "fifo"},
    "random+asha": {"searcher": "random", "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2}},
    "optuna+asha": {"searcher": "optuna", "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2}},
    "random+hyperband": {"searcher": "random", "scheduler": {"name": "hyperband", "reduction_factor": 2}},
    "random+pbt": {"searcher": "random", "scheduler": PBT},
}


def compare_yaml(folder: Path, concurrency: int = 1) -> Path:
    data = {"name": "decisions", "space": str(TABLES / "cnn_fashion_mnist_12k.yaml"),
            "replay": str(TABLES / "fashion_mnist_12k.parquet"),
            "budget": {"num_samples": 8, "max_epochs": 6}, "seeds": [3], "max_concurrent_trials": concurrency,
            "strategies": STRATEGIES}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "decisions.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "decisions.yaml"


def decisions(run_dir: Path) -> list[dict]:
    """A run's decisions: its trials in the order they started (Tune's start time), each with the curves it
    replayed (``replayed_from``, one per epoch), the epochs it reported and how it ended. (The order of
    reports across trials is left out: Tune stamps a restored trial's reports with whole seconds.)"""
    from hwk4tune.results import load_experiment
    from hwk4tune.store.tune_files import experiment_state

    exp = load_experiment(run_dir)
    state, _ = experiment_state(exp.path)
    h = exp.history.sort_values(["trial_id", "training_iteration"], kind="mergesort")
    trials = exp.trials.set_index("trial_id")
    out = []
    for tid in sorted(state, key=lambda t: (state[t]["start_time"], t)):
        rows = h[h["trial_id"] == tid]
        out.append({"replayed_from": [int(v) for v in rows["replayed_from"]],
                    "epochs": [int(v) for v in rows["epoch"]], "status": str(trials.loc[tid, "status"])})
    return out


def main(out: Path) -> None:
    """Run every strategy of :func:`compare_yaml` through Ray Tune with the Ray-actor replay (the
    ``trainable_fn`` of :func:`hwk4tune.sweep.run_sweep`) into ``out/runs``, and write their decisions."""
    from hwk4tune.compare.plan import plan
    from hwk4tune.replay import read_table
    from hwk4tune.spec import load_compare
    from hwk4tune.sweep import run_sweep
    from hwk4tune.sweep.driver import shared_ray
    from hwk4tune.tune.replay_trainable import build_replay

    spec = load_compare(compare_yaml(out))
    table = read_table(spec.replay)
    result = {}
    with shared_ray(None, trial_output=False):
        for r in plan(spec, str(out / "runs")):
            if not (out / "runs" / r.name / "hwk4tune.json").is_file():
                trainable = build_replay(table, spec.max_epochs, 1000, r.sweep.scheduler.restores_checkpoints)
                run_sweep(r.sweep, storage=str(out / "runs"), name=r.name, verbose=False, trainable_fn=trainable)
            result[r.label] = decisions(out / "runs" / r.name)
    (HERE / "actor_replay.json").write_text(json.dumps(dict(sorted(result.items())), indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
