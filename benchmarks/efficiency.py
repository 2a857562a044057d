"""The efficiency study: every searcher x scheduler pairing that makes sense, replayed on the shipped
Fashion-MNIST table, 64 trials of up to the table's epochs per run: epochs and simulated seconds each needs to
reach random+fifo's median final best, with 95 % bootstrap intervals over seeds. Writes
benchmarks/efficiency.md (and the comparison folder, which `--resume`s).

    .venv/bin/python benchmarks/efficiency.py --seeds 100 --out runs/efficiency-sim

Every strategy runs the real Ray Tune searcher and scheduler in the discrete-event replay
(hwk4tune.tune.simulated_replay: no Ray actors, a simulated clock); only the epochs come from the table.
Nevergrad's PSO and DE and optuna's NSGA-II get populations of 8 (8 generations of 64).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "benchmarks" / "tables"
SPACE, TABLE = TABLES / "cnn_fashion_mnist_12k.yaml", TABLES / "fashion_mnist_12k.parquet"
ASHA = {"name": "asha", "grace_period": 1, "reduction_factor": 3}
HYPERBAND = {"name": "hyperband", "reduction_factor": 3}
PBT = {"name": "pbt", "perturbation_interval": 2,
       "hyperparam_mutations": {"lr": {"loguniform": [1.0e-4, 0.3]}, "momentum": {"uniform": [0.5, 0.99]},
                                "dropout": {"uniform": [0.0, 0.6]}}}
SEARCHERS = {
    "random": "random",
    "optuna": {"name": "optuna", "sampler": "tpe"},
    "nsga2": {"name": "optuna", "sampler": "nsga2", "population_size": 8},
    "hyperopt": {"name": "hyperopt", "n_initial_points": 8},
    "pso": {"name": "nevergrad", "optimizer": "PSO", "popsize": 8},
    "de": {"name": "nevergrad", "optimizer": "TwoPointsDE", "popsize": 8},
}


def strategies() -> dict:
    """Every searcher with FIFO and ASHA; random also with HyperBand and PBT (PBT replaces what a model-based
    searcher proposes, HyperBand's brackets are what BOHB would pair: both only with random here)."""
    out = {}
    for name, searcher in SEARCHERS.items():
        out[f"{name}+fifo"] = {"searcher": searcher, "scheduler": "fifo"}
        out[f"{name}+asha"] = {"searcher": searcher, "scheduler": ASHA}
    out["random+hyperband"] = {"searcher": "random", "scheduler": HYPERBAND}
    out["random+pbt"] = {"searcher": "random", "scheduler": PBT}
    return out


def compare_file(folder: Path, seeds: int, trials: int, epochs: int | None, only: list[str] | None = None) -> Path:
    data = {
        "name": "efficiency",
        "space": str(SPACE),
        "replay": str(TABLE),
        "budget": {"num_samples": trials, **({"max_epochs": epochs} if epochs else {})},
        "seeds": list(range(seeds)),
        "max_concurrent_trials": 2,
        "strategies": {k: v for k, v in strategies().items() if not only or k in only},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "efficiency.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def fmt(r: float, lo: float, hi: float) -> str:
    return f"{r:.2f} ({lo:.2f}–{hi:.2f})" if math.isfinite(r) else "n/a"


def write_markdown(c, d, wall: float, command: str, load: float, path: Path) -> None:
    from hwk4tune.results import to_markdown

    finals = d.finals.set_index("strategy")
    rows = []
    for s in c.strategies:
        cost = d.costs[d.costs["strategy"] == s].set_index("cost")
        e, t = cost.loc["epochs"], cost.loc["simulated seconds"]
        rows.append({"strategy": s, "final best (95 % CI)": f"{finals.loc[s, 'mean']:.4f} "
                     f"({finals.loc[s, 'ci_low']:.4f}–{finals.loc[s, 'ci_high']:.4f})",
                     "reached": e["reached"],
                     "epochs to target": f"{e['mean to target']:.0f}" if math.isfinite(e["mean to target"]) else "",
                     "× random+fifo's epochs (95 % CI)": fmt(e["ratio to reference"], e["ci_low"], e["ci_high"]),
                     "sim. s to target": f"{t['mean to target']:.0f}" if math.isfinite(t["mean to target"]) else "",
                     "× random+fifo's seconds (95 % CI)": fmt(t["ratio to reference"], t["ci_low"], t["ci_high"])})
    import pandas as pd

    table = pd.DataFrame(rows).sort_values("strategy", key=lambda col: col.map(
        {s: float(d.costs[(d.costs.strategy == s) & (d.costs.cost == "epochs")]["ratio to reference"].iloc[0])
         for s in c.strategies}))
    text = [
        "# Efficiency: what each strategy needs to reach random+fifo's median final best",
        "",
        f"Made by `{command}`: {c.runs['wall_s'].sum() / 60:.1f} min of wall time in its runs, {wall / 60:.1f} min "
        f"in all ({c.runs['seconds'].sum() / 3600:.1f} h simulated: "
        f"{c.runs['seconds'].sum() / c.runs['wall_s'].sum():.0f}x real time in the runs), on {os.cpu_count()} CPU "
        f"cores shared with other jobs (load average {load:.0f} when it started).",
        "",
        f"Replayed on `{TABLE.relative_to(ROOT)}` (see `benchmarks/tables/README.md`): "
        f"{len(c.strategies)} strategies x {len(c.seeds)} seeds, {c.record.budget.get('num_samples')} trials of up "
        f"to {c.record.budget.get('max_epochs')} epochs per run, 2 at a time. Target: random+fifo's median final "
        f"best, {d.target:.4f} ({c.metric}). Costs of runs that never reached it count at what they consumed (a "
        "lower bound). Ratios: mean cost over seeds / random+fifo's, 95 % percentile bootstrap over seeds. "
        "Seconds are simulated (the discrete-event replay's clock: recorded epoch seconds on 2 workers).",
        "",
        to_markdown(table, short_config=False),
        "",
        "## Verdicts (only where the 95 % intervals support them)",
        "",
        d.winner_line,
        *[f"- {line}" for line in d.verdicts],
        "",
    ]
    path.write_text("\n".join(text))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--epochs", type=int, default=None, help="default: the table's")
    p.add_argument("--out", default=str(ROOT / "runs" / "efficiency"))
    p.add_argument("--strategies", help="comma-separated subset of the pairings (default: all)")
    p.add_argument("--md", default=str(ROOT / "benchmarks" / "efficiency.md"))
    args = p.parse_args(argv)
    from hwk4tune.compare import decide, run_compare
    from hwk4tune.spec import load_compare

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    only = args.strategies.split(",") if args.strategies else None
    spec = load_compare(compare_file(Path(args.out), args.seeds, args.trials, args.epochs, only))
    c = run_compare(spec, args.out, resume=True)
    wall = time.perf_counter() - t0
    command = shlex.join(["python", "benchmarks/efficiency.py", *(argv if argv is not None else sys.argv[1:])])
    write_markdown(c, decide(c), wall, command, load, Path(args.md))
    print(f"simulated {c.runs['seconds'].sum():.0f} s in {c.runs['wall_s'].sum():.0f} wall s of runs")
    print(Path(args.md).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
