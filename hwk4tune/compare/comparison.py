"""A comparison folder read back (:func:`load_comparison`) and analysed per run and per strategy.

Runs are found by their ``run.json`` (label, seed, status), never by folder names. Per strategy: final
best metric over seeds (mean, std, standard error, IQM), epochs consumed (the real compute budget), wall
time, trials started / stopped early / errored, epochs and seconds until the target (given in the compare
file, else the median of all runs' final best), mean rank (of the final best, per seed) and mean rank over
the budget (averaged over the common epoch grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hwk4tune.compare.statistics import bootstrap_ci, first_reach, iqm, mean_band, step_at
from hwk4tune.replay import simulate
from hwk4tune.results import Experiment, ResultsError, load_experiment
from hwk4tune.store.records import PLAN_FILE, RUN_FILE, RUNS_DIR, ComparisonRecord, RecordError, RunRecord, read_record

WALL_GRID_POINTS = 200
Key = tuple[str, int]  # (label, seed)


@dataclass
class Comparison:
    """A comparison folder's runs and their analysis; everything is recomputed from the files."""

    out: Path
    record: ComparisonRecord
    experiments: dict[Key, Experiment]
    run_records: dict[Key, RunRecord]
    metric: str
    mode: str
    target: float
    target_source: str  # "given" | "median final best"
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per (strategy, seed)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per strategy
    reference_point: dict[str, float] | None = None  # several objectives: the hypervolume's reference
    reference_source: str = ""  # "given" | "worst observed"

    @property
    def strategies(self) -> list[str]:
        """The labels, in the compare file's order."""
        order = [r.label for r in self.record.runs]
        seen = list(dict.fromkeys(order + [k[0] for k in self.experiments]))
        return [s for s in seen if any(k[0] == s for k in self.experiments)]

    @property
    def replayed(self) -> bool:
        """A replay (``replay:`` in the compare file): times are simulated seconds (:mod:`hwk4tune.replay`)."""
        return "replay" in self.record.definition

    @property
    def seeds(self) -> list[int]:
        return sorted({k[1] for k in self.experiments})

    def anytime(self, x: str = "epochs") -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The common grid and, per strategy, best-so-far ``[seeds, grid]`` (x: ``epochs`` or ``elapsed_s``)."""
        curves = {k: e.curve() for k, e in self.experiments.items()}
        if x == "epochs":
            top = max((int(c["epochs"].max()) for c in curves.values() if len(c)), default=1)
            grid = np.arange(1, top + 1, dtype=float)  # [grid]
        else:
            top = max((float(c["elapsed_s"].max()) for c in curves.values() if len(c)), default=1.0)
            grid = np.linspace(0.0, top, WALL_GRID_POINTS)  # [grid]
        per: dict[str, np.ndarray] = {}
        for strategy in self.strategies:
            rows = []
            for (s, _seed), c in sorted(curves.items(), key=lambda kv: kv[0][1]):
                if s != strategy:
                    continue
                c = c.dropna(subset=["best"])
                rows.append(step_at(c[x].to_numpy(dtype=float), c["best"].to_numpy(dtype=float), grid))
            per[strategy] = np.vstack(rows) if rows else np.empty((0, grid.size))  # [seeds, grid]
        return grid, per

    def extent(self, x: str = "epochs") -> dict[str, float]:
        """How far each strategy's runs went along ``x`` (the longest of its seeds)."""
        out: dict[str, float] = {}
        for (s, _seed), e in self.experiments.items():
            c = e.curve()
            if len(c):
                out[s] = max(out.get(s, 0.0), float(c[x].max()))
        return out

    def band(self, x: str = "epochs") -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
        """Per strategy, the mean over seeds of best-so-far on the common grid and its 95 % bootstrap
        interval (low, high), where every seed has a value (a mean over a changing set of seeds would not be
        monotone)."""
        grid, per = self.anytime(x)
        return grid, {s: mean_band(arr) for s, arr in per.items() if arr.size}

    def best(self) -> tuple[Key, Experiment]:
        """The run holding the overall best trial: best metric, then fewer epochs to it, then strategy order
        and seed (deterministic)."""
        order = {s: i for i, s in enumerate(self.strategies)}
        candidates = []
        for key, exp in self.experiments.items():
            ranked = exp.ranked()
            if ranked.empty:
                continue
            row = ranked.iloc[0]
            value = float(row[exp.best_column])
            epoch = row["best_epoch"]
            candidates.append(((-value if self.mode == "max" else value,
                                float(epoch) if pd.notna(epoch) else float("inf"),
                                order.get(key[0], len(order)), key[1]), key))
        if not candidates:
            raise ResultsError(f"{self.out}: no trial of any run reported {self.metric}")
        key = min(candidates)[1]
        return key, self.experiments[key]


def load_comparison(out: str | Path, target: float | None = None) -> Comparison:
    """Read a comparison folder: every run under ``OUT/runs`` whose ``run.json`` says ``done`` (found by its
    record), analysed per run and per strategy. ``target`` overrides the one in ``comparison.json``."""
    out = Path(out).expanduser().resolve()
    if not (out / PLAN_FILE).is_file():
        raise ResultsError(f"{out}: no {PLAN_FILE}: not a comparison folder of `hwk4tune compare`")
    record = read_record(ComparisonRecord, out / PLAN_FILE)
    experiments: dict[Key, Experiment] = {}
    run_records: dict[Key, RunRecord] = {}
    for f in sorted((out / RUNS_DIR).glob(f"*/{RUN_FILE}")):
        try:
            run = read_record(RunRecord, f)
        except RecordError:
            continue  # torn by a kill before it was ever finished: not done
        if run.status != "done":
            continue
        experiments[(run.label, run.seed)] = load_experiment(f.parent)
        run_records[(run.label, run.seed)] = run
    replay = record.definition.get("replay")
    if replay:  # the curves' seconds are the recorded ones, laid out on the comparison's slots
        for exp in experiments.values():
            if not exp.history.empty and "epoch_seconds" in exp.history:
                exp.history["elapsed_s"] = simulate(exp.history, record.definition.get("max_concurrent_trials"))
    if not experiments:
        raise ResultsError(f"{out}: no finished run yet (run `hwk4tune compare ... --out {out} --resume`)")
    c = Comparison(out=out, record=record, experiments=experiments, run_records=run_records,
                   metric=record.metric, mode=record.mode, target=float("nan"), target_source="")
    _hypervolume_curves(c)
    _analyse(c, target if target is not None else record.target)
    return c


def _hypervolume_curves(c: Comparison) -> None:
    """Several objectives: every run's curve becomes its hypervolume so far (each finished trial at its last
    epoch), to the compare file's reference_point or the worst value each objective took in any run; the
    comparison's metric is then ``hypervolume`` (max), and every statistic below reads it."""
    import functools

    from hwk4tune.results.hypervolume import derived_reference
    from hwk4tune.results.pareto import final_values, hypervolume_history

    given = c.record.definition.get("space", {}).get("objectives")
    if not given:
        return
    objectives = [(o["metric"], o["mode"]) for o in given]
    metrics = [m for m, _ in objectives]
    declared = c.record.definition.get("reference_point")
    if declared:
        reference, c.reference_source = [float(declared[m]) for m in metrics], "given"
    else:
        values = pd.concat([final_values(e, objectives) for e in c.experiments.values()], ignore_index=True)
        reference = derived_reference(values[metrics].to_numpy(dtype=float), [md for _, md in objectives])
        c.reference_source = "worst observed"
    c.reference_point = dict(zip(metrics, reference))
    for exp in c.experiments.values():  # the instance's curve, read by the analysis and the plots
        exp.curve = functools.partial(hypervolume_history, exp, objectives, reference)  # type: ignore[method-assign]
    c.metric, c.mode = "hypervolume", "max"


def _analyse(c: Comparison, given_target: float | None) -> None:
    """Fill ``c.runs`` (one row per strategy and seed) and ``c.summary`` (one row per strategy), and fix the
    target both measure time-to-target against."""
    curves = {key: exp.curve() for key, exp in c.experiments.items()}
    runs = pd.DataFrame([_run_row(c, key, exp, curves[key]) for key, exp in c.experiments.items()])
    c.target, c.target_source = _target(runs, given_target)
    c.runs = _reach_and_rank(c, runs, curves)
    anytime_rank = _anytime_rank(c)
    c.summary = pd.DataFrame([_strategy_row(strategy, g, c.target, anytime_rank.get(strategy, float("nan")))
                              for strategy, g in c.runs.groupby("strategy", sort=False)])


def _run_row(c: Comparison, key: Key, exp: Experiment, curve: pd.DataFrame) -> dict:
    """What one run (strategy, seed) reached and what it cost: final best, epochs, time, trials by outcome."""
    label, seed = key
    t = exp.trials
    finite_best = curve["best"].dropna()
    counts = exp.counts()
    return {
        "strategy": label,
        "seed": seed,
        "searcher": exp.record.searcher.get("name") if exp.record else None,
        "scheduler": exp.record.scheduler.get("name") if exp.record else None,
        "final_best": float(finite_best.iloc[-1]) if len(finite_best) else float("nan"),
        "epochs": int(t["epochs"].sum()) if len(t) else 0,
        "wall_s": float(c.run_records[key].wall_s or float("nan")),
        "seconds": float(curve["elapsed_s"].max()) if len(curve) else float("nan"),  # simulated in a replay
        "trials_started": int((t["status"] != "PENDING").sum()) if len(t) else 0,
        "trials_stopped_early": counts["stopped_early"],
        "trials_errored": counts["ERROR"],
        "trials_diverged": counts["diverged"],
        "experiment_dir": str(exp.path),
    }


def _target(runs: pd.DataFrame, given_target: float | None) -> tuple[float, str]:
    """The target and where it came from: the compare file's, else the median of all runs' final best (a
    value half the runs reach, so time-to-target separates the strategies)."""
    if given_target is not None:
        return float(given_target), "given"
    finals = runs["final_best"].dropna()
    return (float(finals.median()) if len(finals) else float("nan")), "median final best"


def _reach_and_rank(c: Comparison, runs: pd.DataFrame, curves: dict[Key, pd.DataFrame]) -> pd.DataFrame:
    """The runs with epochs and seconds to the target and their rank per seed, in the compare file's
    strategy order."""
    reach = [first_reach(curves[(r.strategy, r.seed)], c.target, c.mode) for r in runs.itertuples()]
    runs["epochs_to_target"] = [e for e, _ in reach]
    runs["seconds_to_target"] = [s for _, s in reach]
    # rank of the final best among the strategies run with the same seed (1 = best; ties share the mean rank)
    runs["rank"] = runs.groupby("seed")["final_best"].rank(ascending=(c.mode == "min"), method="average")
    order = {s: i for i, s in enumerate(c.strategies)}
    runs = runs.sort_values(["strategy", "seed"], key=lambda col: col.map(order) if col.name == "strategy" else col)
    return runs.reset_index(drop=True)


def _strategy_row(strategy: str, g: pd.DataFrame, target: float, mean_rank_anytime: float) -> dict:
    """One strategy over its seeds: the final best's spread (mean, std, SE, bootstrap CI, IQM), summed and
    mean costs, time to target and ranks."""
    best = g["final_best"].to_numpy(dtype=float)
    finite = best[np.isfinite(best)]
    n = finite.size
    ci_low, ci_high = bootstrap_ci(finite)
    return {
        "strategy": strategy,
        "runs": len(g),
        "best_mean": float(finite.mean()) if n else float("nan"),
        "best_std": float(finite.std(ddof=1)) if n > 1 else 0.0,
        "best_se": float(finite.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
        "best_ci_low": ci_low,
        "best_ci_high": ci_high,
        "best_iqm": iqm(finite),
        "epochs_mean": float(g["epochs"].mean()),
        "epochs_total": int(g["epochs"].sum()),
        "wall_s_mean": float(g["wall_s"].mean()),
        "wall_s_total": float(g["wall_s"].sum()),
        "seconds_mean": float(g["seconds"].mean()),
        "trials_started": int(g["trials_started"].sum()),
        "trials_stopped_early": int(g["trials_stopped_early"].sum()),
        "trials_errored": int(g["trials_errored"].sum()),
        "epochs_to_target": float(g["epochs_to_target"].mean()),
        "seconds_to_target": float(g["seconds_to_target"].mean()),
        "reached_target": int(g["epochs_to_target"].notna().sum()),
        "mean_rank": float(g["rank"].mean()),
        "mean_rank_anytime": mean_rank_anytime,
        "target": target,
    }


def _anytime_rank(c: Comparison) -> dict[str, float]:
    """Rank of each strategy's best-so-far at every point of the common epoch grid, per seed, averaged (as
    HPOBench/YAHPO report mean rank over the budget). Points where a strategy has no value yet are skipped."""
    grid, _ = c.anytime("epochs")
    sums: dict[str, list[float]] = {s: [] for s in c.strategies}
    for seed in c.seeds:
        names = [s for s in c.strategies if (s, seed) in c.experiments]
        if len(names) < 2:
            continue
        mat = []
        for s in names:
            curve = c.experiments[(s, seed)].curve().dropna(subset=["best"])
            mat.append(step_at(curve["epochs"].to_numpy(float), curve["best"].to_numpy(float), grid))
        frame = pd.DataFrame(np.vstack(mat).T, columns=names)  # [grid, strategies]
        frame = frame.dropna()
        if frame.empty:
            continue
        ranks = frame.rank(axis=1, ascending=(c.mode == "min"), method="average")
        for s in names:
            sums[s].append(float(ranks[s].mean()))
    return {s: float(np.mean(v)) for s, v in sums.items() if v}
