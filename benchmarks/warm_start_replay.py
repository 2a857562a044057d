"""Warm start, replayed (issue 28, item 5): Optuna TPE warm-started from a 16-trial sweep vs cold, on the shipped
Fashion-MNIST table (benchmarks/tables/fashion_mnist_12k.parquet: 128 configurations x 12 epochs).

Per seed s (default 30 seeds):

- the earlier sweep: 16 configurations drawn at random (seed 1000 + s) from the table's 128, each with its recorded
  best epoch's val_accuracy (what a warm start reads from an earlier experiment folder);
- two TPE sweeps of ``--trials`` trials (seed s): cold, and warm-started from the earlier sweep through hwk4tune's own
  path (``plan_warm_start`` -> ``build_searcher``: the Optuna study holds the 16 earlier trials);
- every trial is replayed as ``compare``'s replays do: the nearest recorded configuration's curve (FIFO, all 12
  epochs, one trial at a time), the searcher told its last epoch's value (as Ray's OptunaSearch is told).

The target is the cold runs' median final best (each trial's best epoch, best over the run). For each run: trials (and
epochs = trials x 12) until its best-so-far reached the target; a run that never did counts the trials it used (a
lower bound: ``compare``'s censoring). Means with 95 % percentile-bootstrap intervals over seeds, the ratio of means,
and P(warm ends better than cold), as ``hwk4tune.compare.statistics`` computes them. The 16 earlier trials are
not counted in the warm runs' trials or epochs. Run: ``.venv/bin/python benchmarks/warm_start_replay.py``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "benchmarks/tables/fashion_mnist_12k.parquet"
SPACE = ROOT / "benchmarks/tables/cnn_fashion_mnist_12k.yaml"
METRIC = "val_accuracy"


def _spec(space, seed: int, trials: int):
    from hwk4tune.spec import SweepSpec

    return SweepSpec(space=space, searcher={"name": "optuna", "seed": seed}, num_samples=trials,
                     warm_start="earlier-16-trials")


def _earlier(table, seed: int, n: int):
    from hwk4tune.results.warm_start import EarlierSource, EarlierTrial

    picked = np.random.default_rng(1000 + seed).choice(len(table.configs), size=n, replace=False)
    trials = [EarlierTrial("earlier", str(i), dict(table.configs[i]),
                           (max(r[METRIC] for r in table.curves[i] if np.isfinite(r[METRIC])),)) for i in picked]
    return EarlierSource("earlier", [(METRIC, "max")], table.meta["space"]["trainable"],
                         table.meta["space"]["dataset"]["name"], trials)


def _run(table, space, seed: int, trials: int, earlier=None) -> np.ndarray:
    """Best-so-far after each trial of one replayed TPE sweep."""
    from hwk4tune.results.warm_start import plan_warm_start
    from hwk4tune.tune.strategies import StrategyArgs, build_searcher, param_space

    spec = _spec(space, seed, trials)
    plan = plan_warm_start(spec, [earlier]) if earlier is not None else None
    searcher = build_searcher(StrategyArgs.from_sweep(spec, f"replay-{seed}-{earlier is not None}", plan))
    searcher.set_search_properties(METRIC, "max", param_space(spec.space, spec.searcher))
    best, out = -np.inf, []
    for t in range(trials):
        config = searcher.suggest(f"t{t}")
        curve = table.curve(table.nearest(config)[0])
        values = [r[METRIC] for r in curve if np.isfinite(r[METRIC])]
        searcher.on_trial_complete(f"t{t}", {METRIC: curve[-1][METRIC]})
        best = max(best, max(values) if values else -np.inf)
        out.append(best)
    return np.asarray(out)


def _reach(curves: np.ndarray, target: float) -> np.ndarray:
    hit = curves >= target
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, curves.shape[1]).astype(float)  # censored: trials used


def main() -> None:
    from hwk4tune.compare.statistics import bootstrap_ci, prob_better_ci, ratio_ci
    from hwk4tune.replay import read_table
    from hwk4tune.spec import load_space

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--earlier", type=int, default=16)
    args = p.parse_args()
    logging.getLogger("optuna").setLevel(logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table, space = read_table(TABLE), load_space(SPACE)
    start = time.monotonic()
    cold = np.stack([_run(table, space, s, args.trials) for s in range(args.seeds)])
    warm = np.stack([_run(table, space, s, args.trials, _earlier(table, s, args.earlier)) for s in range(args.seeds)])
    target = float(np.median(cold[:, -1]))
    epochs = table.epochs
    print(f"{args.seeds} seeds, {args.trials} TPE trials each (FIFO, {epochs} epochs a trial), warm: + {args.earlier} "
          f"earlier trials (random draws from the table); {time.monotonic() - start:.0f} s")
    print(f"target: the cold runs' median final best {METRIC} = {target:.4f}")
    for name, c in (("cold", cold), ("warm", warm)):
        r = _reach(c, target)
        lo, hi = bootstrap_ci(r)
        flo, fhi = bootstrap_ci(c[:, -1])
        print(f"{name}: reached in {int((c >= target).any(axis=1).sum())}/{args.seeds} runs; trials to reach "
              f"{r.mean():.2f} [{lo:.2f}, {hi:.2f}], epochs {r.mean() * epochs:.1f} [{lo * epochs:.1f}, {hi * epochs:.1f}]; "
              f"final best {c[:, -1].mean():.4f} [{flo:.4f}, {fhi:.4f}]")
    prior = np.array([max(t.values[0] for t in _earlier(table, s, args.earlier).trials) for s in range(args.seeds)])
    print(f"the earlier {args.earlier}-trial sweeps' own best: mean {prior.mean():.4f}, reached the target in "
          f"{int((prior >= target).sum())}/{args.seeds}")
    ratio, rlo, rhi = ratio_ci(_reach(warm, target), _reach(cold, target))
    pb, plo, phi = prob_better_ci(warm[:, -1], cold[:, -1])
    print(f"trials (and epochs) to reach, warm / cold: {ratio:.2f} [{rlo:.2f}, {rhi:.2f}]")
    print(f"P(warm ends better than cold): {pb:.2f} [{plo:.2f}, {phi:.2f}]")


if __name__ == "__main__":
    main()
