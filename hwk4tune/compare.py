"""Strategies head to head: every strategy x seed under one budget, then one table and anytime curves.

The experiment is a plain cross product (``itertools.product(strategies, seeds)``); each pair is one sweep
(:func:`hwk4tune.sweep.run_sweep`) in ``OUT/runs/<strategy>-seed<seed>/`` with the same ``num_samples``,
``max_epochs``, resources and concurrency, its searcher (and PBT/PB2 scheduler) seeded by the seed. Each run
writes ``run.json`` (strategy, seed, budget, times, ``status``) beside the sweep's own ``hwk4tune.json``;
the analysis finds runs by that metadata, never by folder names.

Resuming (``--resume``): a run whose ``run.json`` says ``done`` is skipped. A run that was interrupted is
deleted and run again from scratch, not continued with ``resume_sweep``: a comparison is about equal
budgets and comparable wall time, and a continued sweep's timeline (the gap, restarted actors, searcher
state rebuilt from the saved trials) would not be comparable with the runs that went through in one go;
runs are small, so little is lost.

Per strategy (:class:`Comparison`): final best metric over seeds (mean, std, standard error, IQM), epochs
consumed (the real compute budget), wall time, trials started / stopped early / errored, epochs and seconds
until the target (given in the compare file, else the median of all runs' final best), mean rank (of the
final best, per seed) and mean rank over the budget (averaged over the common epoch grid).

Arrays of curves are ``[seeds, grid]``: best-so-far per run on a common grid (cumulative epochs of all
trials, or seconds since the run started), carried forward after a run ends.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import json
import logging
import math
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from hwk4tune.results import Experiment, ResultsError, load_experiment, to_markdown
from hwk4tune.spec import CompareSpec, SweepSpec

__all__ = ["RunPlan", "Comparison", "plan", "sweep_for", "run_compare", "load_comparison", "iqm",
           "RUNS_DIR", "RUN_FILE", "PLAN_FILE", "FILES"]

RUNS_DIR = "runs"
RUN_FILE = "run.json"
PLAN_FILE = "comparison.json"
FILES = {"md": "comparison.md", "csv": "comparison.csv", "runs_csv": "runs.csv",
         "epochs_png": "anytime_epochs.png", "wall_png": "anytime_wall.png"}
WALL_GRID_POINTS = 200


# ------------------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class RunPlan:
    strategy: str
    seed: int
    name: str  # the experiment folder under OUT/runs
    sweep: SweepSpec


def _seeded(model: Any, seed: int) -> Any:
    """A searcher or scheduler with its ``seed`` set (models without one, e.g. asha, are unchanged)."""
    return model.model_copy(update={"seed": seed}) if "seed" in type(model).model_fields else model


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "strategy"


def sweep_for(spec: CompareSpec, strategy: str, seed: int, storage: str | None = None) -> SweepSpec:
    """The sweep of one (strategy, seed): the comparison's budget, resources and concurrency."""
    s = spec.strategies[strategy]
    # every trial of a run starts from the run's seed (unless the space fixes one): weights and batch order
    # then differ between strategies only through their configurations, and a run can be repeated
    params = spec.space.space if "seed" in spec.space.space else {**spec.space.space, "seed": seed}
    space = spec.space.model_copy(update={"max_epochs": spec.max_epochs, "space": params})
    return SweepSpec(
        space=space,
        searcher=_seeded(s.searcher, seed),
        scheduler=_seeded(s.scheduler, seed),
        num_samples=spec.budget.num_samples,
        max_concurrent_trials=spec.max_concurrent_trials,
        resources_per_trial=spec.resources_per_trial,
        name=f"{_safe(strategy)}-seed{seed}",
        storage=storage,
        source=spec.source,
    )


def plan(spec: CompareSpec, storage: str | None = None) -> list[RunPlan]:
    """Every (strategy, seed) pair, strategies in file order, seeds inner."""
    return [RunPlan(strategy, seed, f"{_safe(strategy)}-seed{seed}", sweep_for(spec, strategy, seed, storage))
            for strategy, seed in itertools.product(spec.strategies, spec.seeds)]


def _plan_record(spec: CompareSpec, runs: list[RunPlan]) -> dict:
    """What ``comparison.json`` holds; ``definition`` must match for ``--resume`` to continue."""
    definition = {
        "space": spec.space.model_dump(mode="json"),
        "budget": {"num_samples": spec.budget.num_samples, "max_epochs": spec.max_epochs},
        "strategies": {k: v.model_dump(mode="json") for k, v in spec.strategies.items()},
        "resources_per_trial": spec.resources_per_trial.model_dump(mode="json"),
        "max_concurrent_trials": spec.max_concurrent_trials,
    }
    definition["space"].pop("source", None)
    return {
        "kind": "compare",
        "compare_file": str(spec.source.resolve()) if spec.source else None,
        "name": spec.name,
        "metric": spec.space.metric,
        "mode": spec.space.mode,
        "target": spec.target,
        "seeds": list(spec.seeds),
        "runs": [{"strategy": r.strategy, "seed": r.seed, "name": r.name} for r in runs],
        "definition": definition,
        "created": _now(),
    }


def _live(out: Path, strategy: str):
    """One Optuna journal for the whole comparison, one study per run (``hwk4tune dashboard OUT``)."""
    from hwk4tune.live import JOURNAL_FILE, LiveOptions

    return LiveOptions(journal=str(out / JOURNAL_FILE), label=strategy)


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)  # atomic: a killed process never leaves a torn run.json


# ------------------------------------------------------------------------------------------ running


def run_compare(spec: CompareSpec, out: str | Path, *, resume: bool = False, address: str | None = None,
                verbose: bool = True, say: Callable[[str], None] | None = None) -> "Comparison":
    """Run every (strategy, seed) of ``spec`` into ``out`` and write the comparison files.

    ``resume`` skips runs already ``done`` and re-runs interrupted ones from scratch. Without it, a folder
    that already holds a comparison is refused (:class:`ResultsError`). Pairing rules of every strategy are
    checked before Ray starts (:class:`~hwk4tune.spec.SpecError`).
    """
    from hwk4tune.sweep import check_sweep, run_sweep

    say = say or (lambda text: print(text, flush=True) if verbose else None)
    out = Path(out).expanduser().resolve()
    runs_dir = out / RUNS_DIR
    runs = plan(spec, str(runs_dir))
    for r in runs:  # before Ray starts: one bad pairing refuses the whole comparison
        check_sweep(r.sweep)
    record = _plan_record(spec, runs)
    existing = _read_json(out / PLAN_FILE)
    if existing is not None:
        if not resume:
            raise ResultsError(f"{out} already holds a comparison: pass --resume to continue it, or choose "
                               "another --out")
        if existing.get("definition") != record["definition"]:
            raise ResultsError(f"{out}: the comparison there was planned with another space, budget or "
                               "strategies; --resume continues only the same comparison (choose another --out)")
        record["created"] = existing.get("created", record["created"])
        record["resumed"] = _now()
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / PLAN_FILE, record)
    say(f"comparison: {len(spec.strategies)} strategies x {len(spec.seeds)} seeds = {len(runs)} runs of "
        f"{spec.budget.num_samples} trials x up to {spec.max_epochs} epochs -> {out}")

    todo = []
    for r in runs:
        meta = _read_json(runs_dir / r.name / RUN_FILE)
        if meta and meta.get("status") == "done":
            say(f"  {r.name}: done before, skipped")
            continue
        todo.append(r)
    started_ray = _start_ray(address) if todo else False
    try:
        for i, r in enumerate(todo, start=1):
            exp_dir = runs_dir / r.name
            if exp_dir.exists():  # interrupted before: start it over (see the module's docstring)
                shutil.rmtree(exp_dir)
                say(f"  {r.name}: interrupted before, running it again from scratch")
            meta = {"kind": "compare-run", "strategy": r.strategy, "seed": r.seed, "name": r.name,
                    "budget": record["definition"]["budget"], "metric": spec.space.metric,
                    "mode": spec.space.mode, "status": "running", "started": _now(),
                    "started_unix": time.time()}
            _write_json(exp_dir / RUN_FILE, meta)
            say(f"[{i}/{len(todo)}] {r.name}: {r.sweep.searcher.name}+{r.sweep.scheduler.name}, seed {r.seed} ...")
            t0 = time.perf_counter()
            with _quiet_tune():  # a failing trial's traceback is in its error.txt and in the tables
                run_sweep(r.sweep, storage=str(runs_dir), name=r.name, address=address, verbose=False,
                          live=_live(out, r.strategy))
            wall = time.perf_counter() - t0
            exp = load_experiment(exp_dir)
            meta.update(status="done", finished=_now(), finished_unix=time.time(), wall_s=wall)
            _write_json(exp_dir / RUN_FILE, meta)
            say(f"[{i}/{len(todo)}] {r.name}: {_run_line(exp)}, {wall:.0f} s")
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    comparison = load_comparison(out)
    for path in comparison.write():
        say(f"wrote {path}")
    return comparison


@contextlib.contextmanager
def _quiet_tune():
    """Tune logs each failed trial's traceback on the driver; a comparison reports errors per run instead."""
    loggers = [logging.getLogger(name) for name in ("ray.tune", "ray.train", "ray.air")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _start_ray(address: str | None) -> bool:
    """One Ray for all runs (True when started here), as `run` starts it (see sweep.ensure_ray), without the
    trials' output: a comparison prints one line per run instead, and optuna's per-study line is off."""
    try:  # "A new study created in memory" once per optuna run
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass
    from hwk4tune.sweep import ensure_ray

    return ensure_ray(address, log_to_driver=False)


def _run_line(exp: Experiment) -> str:
    c = exp.counts()
    best = exp.curve()["best"]
    value = f"{best.iloc[-1]:.4f}" if len(best) and math.isfinite(best.iloc[-1]) else "n/a"
    return (f"{len(exp.trials)} trials ({c['stopped_early']} stopped early, {c['ERROR']} errored), "
            f"{int(exp.trials['epochs'].sum()) if len(exp.trials) else 0} epochs, best {exp.metric} {value}")


# ------------------------------------------------------------------------------------------ analysis


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle half (25% trimmed from each end); NaNs ignored."""
    x = np.sort(np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float))
    if x.size == 0:
        return float("nan")
    cut = int(math.floor(0.25 * x.size))
    return float(x[cut:x.size - cut].mean())


def _step_at(xs: np.ndarray, ys: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A step function (value ys[i] from xs[i] on) sampled at ``grid``; NaN before the first step."""
    if xs.size == 0:
        return np.full(grid.shape, np.nan)
    idx = np.searchsorted(xs, grid, side="right") - 1
    out = np.where(idx >= 0, ys[np.clip(idx, 0, None)], np.nan)
    return out.astype(float)


@dataclass
class Comparison:
    """A comparison folder's runs and their analysis; everything is recomputed from the files."""

    out: Path
    record: dict
    experiments: dict[tuple[str, int], Experiment]
    run_meta: dict[tuple[str, int], dict]
    metric: str
    mode: str
    target: float
    target_source: str  # "given" | "median final best"
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per (strategy, seed)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per strategy

    @property
    def strategies(self) -> list[str]:
        order = [r["strategy"] for r in self.record.get("runs", [])]
        seen = list(dict.fromkeys(order + [k[0] for k in self.experiments]))
        return [s for s in seen if any(k[0] == s for k in self.experiments)]

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
                rows.append(_step_at(c[x].to_numpy(dtype=float), c["best"].to_numpy(dtype=float), grid))
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

    def band(self, x: str = "epochs") -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Per strategy, mean and standard error over seeds of best-so-far on the common grid, where every
        seed has a value (a mean over a changing set of seeds would not be monotone)."""
        grid, per = self.anytime(x)
        out = {}
        for strategy, arr in per.items():  # arr: [seeds, grid]
            if arr.size == 0:
                continue
            complete = ~np.isnan(arr).any(axis=0)  # [grid]
            n = arr.shape[0]
            mean = np.where(complete, _nanmean(arr), np.nan)
            se = np.where(complete, _nanstd(arr) / math.sqrt(n), np.nan)
            out[strategy] = (mean, se)
        return grid, out

    def best(self) -> tuple[tuple[str, int], Experiment]:
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

    def plot(self, x: str, path: Any) -> Any:
        """Best-so-far against ``x`` (``epochs`` | ``elapsed_s``): mean over seeds, band = ± standard error.
        ``path``: a file name or a binary file object (PNG)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        grid, bands = self.band(x)
        seeds = {s: sum(1 for k in self.experiments if k[0] == s) for s in bands}
        extent = self.extent(x)
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for strategy, (mean, se) in bands.items():
            # a line ends where the strategy's longest run ended: fewer epochs consumed shows as a shorter line
            keep = grid <= extent.get(strategy, grid[-1]) + 1e-9
            g, mean, se = grid[keep], mean[keep], se[keep]
            line, = ax.step(g, mean, where="post", label=f"{strategy} ({seeds[strategy]} seeds)")
            ax.fill_between(g, mean - se, mean + se, step="post", alpha=0.2, color=line.get_color())
            if g.size:
                ax.plot(g[-1:], mean[-1:], "o", color=line.get_color(), ms=4)
        if math.isfinite(self.target):
            ax.axhline(self.target, color="grey", lw=0.8, ls="--", label=f"target {self.target:.4g}")
        ax.set_xlabel("epochs consumed (all trials)" if x == "epochs" else "wall time (s)")
        ax.set_ylabel(f"best {self.metric} so far")
        ax.set_title(f"best-so-far {self.metric}: mean ± standard error over seeds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if self.mode == "max" else "upper right")
        fig.tight_layout()
        out = path if hasattr(path, "write") else Path(path)
        fig.savefig(out, format="png")
        plt.close(fig)
        return out

    def markdown(self) -> str:
        budget = self.record.get("definition", {}).get("budget", {})
        seeds = sorted({k[1] for k in self.experiments})
        shown = self.summary.copy()
        lines = [
            f"# Comparison{': ' + self.record['name'] if self.record.get('name') else ''}",
            "",
            f"{len(self.strategies)} strategies x {len(seeds)} seeds {seeds}; budget per run: "
            f"{budget.get('num_samples')} trials of up to {budget.get('max_epochs')} epochs. "
            f"Metric: {self.metric} ({self.mode}); target {self.target:.4g} ({self.target_source}).",
            "",
            to_markdown(_display_summary(shown, self.metric), short_config=False),
            "",
            "best: final best over seeds, mean ± std (IQM: interquartile mean); epochs: consumed per run, mean "
            "(total over seeds); trials: over all seeds; to target: mean over the runs that reached it; rank: "
            "mean over seeds of the final best's rank (1 = best), and averaged over the epoch budget.",
            "",
            "## Runs",
            "",
            to_markdown(self.runs.drop(columns=["experiment_dir"], errors="ignore"), short_config=False),
            "",
            f"Anytime curves: `{FILES['epochs_png']}` (against epochs consumed), `{FILES['wall_png']}` "
            "(against wall time).",
        ]
        return "\n".join(lines) + "\n"

    def write(self, out: str | Path | None = None) -> list[Path]:
        """``comparison.md``, ``comparison.csv`` (per strategy), ``runs.csv`` (per run), two PNGs."""
        out = Path(out or self.out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        p = out / FILES["md"]
        p.write_text(self.markdown())
        written.append(p)
        p = out / FILES["csv"]
        self.summary.to_csv(p, index=False)
        written.append(p)
        p = out / FILES["runs_csv"]
        self.runs.to_csv(p, index=False)
        written.append(p)
        written.append(self.plot("epochs", out / FILES["epochs_png"]))
        written.append(self.plot("elapsed_s", out / FILES["wall_png"]))
        return written


def _nanmean(arr: np.ndarray) -> np.ndarray:
    n = np.sum(~np.isnan(arr), axis=0)
    total = np.nansum(arr, axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _nanstd(arr: np.ndarray) -> np.ndarray:
    """Sample std over axis 0 (ddof=1); 0 where fewer than two values."""
    n = np.sum(~np.isnan(arr), axis=0)
    mean = _nanmean(arr)
    sq = np.nansum((arr - mean) ** 2, axis=0)
    return np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), 0.0)


def _display_summary(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    if summary.empty:
        return summary

    def pm(m, s):
        return "" if not math.isfinite(m) else f"{m:.4f} ± {s:.4f}"

    def num(v, f="{:.1f}"):
        return "" if v is None or not math.isfinite(v) else f.format(v)

    return pd.DataFrame({
        "strategy": summary["strategy"],
        f"best {metric}": [pm(m, s) for m, s in zip(summary["best_mean"], summary["best_std"])],
        "IQM": [num(v, "{:.4f}") for v in summary["best_iqm"]],
        "epochs/run (total)": [f"{num(m)} ({int(t)})" for m, t in zip(summary["epochs_mean"], summary["epochs_total"])],
        "wall s/run": [num(v) for v in summary["wall_s_mean"]],
        "trials": summary["trials_started"].astype(int),
        "stopped early": summary["trials_stopped_early"].astype(int),
        "errored": summary["trials_errored"].astype(int),
        "epochs to target": [num(v) for v in summary["epochs_to_target"]],
        "s to target": [num(v) for v in summary["seconds_to_target"]],
        "reached": [f"{int(r)}/{int(n)}" for r, n in zip(summary["reached_target"], summary["runs"])],
        "mean rank": [num(v, "{:.2f}") for v in summary["mean_rank"]],
        "rank over budget": [num(v, "{:.2f}") for v in summary["mean_rank_anytime"]],
    })


def _first_reach(curve: pd.DataFrame, target: float, mode: str) -> tuple[float, float]:
    """(cumulative epochs, seconds) when best-so-far first reached ``target``; NaN when it never did."""
    if curve.empty or not math.isfinite(target):
        return float("nan"), float("nan")
    hit = curve["best"] >= target if mode == "max" else curve["best"] <= target
    if not hit.any():
        return float("nan"), float("nan")
    row = curve[hit].iloc[0]
    return float(row["epochs"]), float(row["elapsed_s"])


def load_comparison(out: str | Path, target: float | None = None) -> Comparison:
    """Read a comparison folder: every run under ``OUT/runs`` whose ``run.json`` says ``done`` (found by its
    metadata), analysed per run and per strategy. ``target`` overrides the one in ``comparison.json``."""
    out = Path(out).expanduser().resolve()
    record = _read_json(out / PLAN_FILE)
    if record is None:
        raise ResultsError(f"{out}: no {PLAN_FILE}: not a comparison folder of `hwk4tune compare`")
    experiments: dict[tuple[str, int], Experiment] = {}
    run_meta: dict[tuple[str, int], dict] = {}
    for f in sorted((out / RUNS_DIR).glob(f"*/{RUN_FILE}")):
        meta = _read_json(f)
        if not meta or meta.get("status") != "done":
            continue
        key = (str(meta["strategy"]), int(meta["seed"]))
        experiments[key] = load_experiment(f.parent)
        run_meta[key] = meta
    if not experiments:
        raise ResultsError(f"{out}: no finished run yet (run `hwk4tune compare ... --out {out} --resume`)")
    metric, mode = record.get("metric", "val_accuracy"), record.get("mode", "max")
    c = Comparison(out=out, record=record, experiments=experiments, run_meta=run_meta, metric=metric, mode=mode,
                   target=float("nan"), target_source="")
    _analyse(c, target if target is not None else record.get("target"))
    return c


def _analyse(c: Comparison, given_target: float | None) -> None:
    rows = []
    curves = {}
    for (strategy, seed), exp in c.experiments.items():
        curve = exp.curve()
        curves[(strategy, seed)] = curve
        t = exp.trials
        finite_best = curve["best"].dropna()
        counts = exp.counts()
        rows.append({
            "strategy": strategy,
            "seed": seed,
            "searcher": (exp.meta.get("searcher") or {}).get("name"),
            "scheduler": (exp.meta.get("scheduler") or {}).get("name"),
            "final_best": float(finite_best.iloc[-1]) if len(finite_best) else float("nan"),
            "epochs": int(t["epochs"].sum()) if len(t) else 0,
            "wall_s": float(c.run_meta[(strategy, seed)].get("wall_s") or float("nan")),
            "trials_started": int((t["status"] != "PENDING").sum()) if len(t) else 0,
            "trials_stopped_early": counts["stopped_early"],
            "trials_errored": counts["ERROR"],
            "trials_diverged": counts["diverged"],
            "experiment_dir": str(exp.path),
        })
    runs = pd.DataFrame(rows)
    if given_target is not None:
        c.target, c.target_source = float(given_target), "given"
    else:
        finals = runs["final_best"].dropna()
        c.target = float(finals.median()) if len(finals) else float("nan")
        c.target_source = "median final best"
    reach = [_first_reach(curves[(r.strategy, r.seed)], c.target, c.mode) for r in runs.itertuples()]
    runs["epochs_to_target"] = [e for e, _ in reach]
    runs["seconds_to_target"] = [s for _, s in reach]
    # rank of the final best among the strategies run with the same seed (1 = best; ties share the mean rank)
    runs["rank"] = runs.groupby("seed")["final_best"].rank(ascending=(c.mode == "min"), method="average")
    order = {s: i for i, s in enumerate(c.strategies)}
    runs = runs.sort_values(["strategy", "seed"], key=lambda col: col.map(order) if col.name == "strategy" else col)
    c.runs = runs.reset_index(drop=True)
    anytime_rank = _anytime_rank(c)

    summary = []
    for strategy, g in c.runs.groupby("strategy", sort=False):
        best = g["final_best"].to_numpy(dtype=float)
        finite = best[np.isfinite(best)]
        n = finite.size
        summary.append({
            "strategy": strategy,
            "runs": len(g),
            "best_mean": float(finite.mean()) if n else float("nan"),
            "best_std": float(finite.std(ddof=1)) if n > 1 else 0.0,
            "best_se": float(finite.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
            "best_iqm": iqm(finite),
            "epochs_mean": float(g["epochs"].mean()),
            "epochs_total": int(g["epochs"].sum()),
            "wall_s_mean": float(g["wall_s"].mean()),
            "wall_s_total": float(g["wall_s"].sum()),
            "trials_started": int(g["trials_started"].sum()),
            "trials_stopped_early": int(g["trials_stopped_early"].sum()),
            "trials_errored": int(g["trials_errored"].sum()),
            "epochs_to_target": float(g["epochs_to_target"].mean()),
            "seconds_to_target": float(g["seconds_to_target"].mean()),
            "reached_target": int(g["epochs_to_target"].notna().sum()),
            "mean_rank": float(g["rank"].mean()),
            "mean_rank_anytime": anytime_rank.get(strategy, float("nan")),
            "target": c.target,
        })
    c.summary = pd.DataFrame(summary)


def _anytime_rank(c: Comparison) -> dict[str, float]:
    """Rank of each strategy's best-so-far at every point of the common epoch grid, per seed, averaged (as
    HPOBench/YAHPO report mean rank over the budget). Points where a strategy has no value yet are skipped."""
    grid, _ = c.anytime("epochs")
    seeds = sorted({k[1] for k in c.experiments})
    sums: dict[str, list[float]] = {s: [] for s in c.strategies}
    for seed in seeds:
        names = [s for s in c.strategies if (s, seed) in c.experiments]
        if len(names) < 2:
            continue
        mat = []
        for s in names:
            curve = c.experiments[(s, seed)].curve().dropna(subset=["best"])
            mat.append(_step_at(curve["epochs"].to_numpy(float), curve["best"].to_numpy(float), grid))
        frame = pd.DataFrame(np.vstack(mat).T, columns=names)  # [grid, strategies]
        frame = frame.dropna()
        if frame.empty:
            continue
        ranks = frame.rank(axis=1, ascending=(c.mode == "min"), method="average")
        for s in names:
            sums[s].append(float(ranks[s].mean()))
    return {s: float(np.mean(v)) for s, v in sums.items() if v}
