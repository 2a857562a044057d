"""The text a sweep prints when it ends: counts, the top trials, where the experiment is, what next."""

from __future__ import annotations

from hwk4tune.spec import SweepSpec
from hwk4tune.store.records import is_uri

TOP_K = 5


def planned_trials(spec: SweepSpec) -> int:
    """How many trials the sweep runs: ``num_samples``, times the valid combinations of the grid (all of
    them, unless conditions leave some grid parameters out)."""
    return spec.num_samples * len(spec.space.space.grid_points())


def summary(results, exp_dir: str, planned: int, hidden_tracebacks: int = 0, scheduler: str | None = None) -> str:
    """The end-of-sweep text.

    Counts come from what Tune saved (as `hwk4tune table` reads it): after Ctrl-C, the trials Tune stopped
    stay RUNNING there, while the in-memory result calls them TERMINATED. The top trials are ranked as
    `table`, `best`, `report` and `compare` rank them: by each trial's best epoch (one definition of best,
    :meth:`hwk4tune.results.Experiment.ranked`).
    """
    exp = _saved_experiment(exp_dir)
    if exp is None:  # remote storage: the in-memory view
        statuses = [t.status for t in results._experiment_analysis.trials]
        counts = {s: statuses.count(s) for s in ("TERMINATED", "ERROR")}
        counts["unfinished"] = len(statuses) - counts["TERMINATED"] - counts["ERROR"]
        table = _top_in_memory(results)
        metric = results._experiment_analysis.default_metric
    else:
        c = exp.counts()
        counts = {"TERMINATED": c["TERMINATED"], "ERROR": c["ERROR"], "unfinished": c["RUNNING"] + c["PENDING"]}
        table = top_trials(exp)
        metric = exp.metric
    unfinished = counts["unfinished"] + max(0, planned - sum(counts.values()))
    lines = ["", f"{planned} trials planned: {counts['TERMINATED']} finished, {counts['ERROR']} errors"
                 + (f", {unfinished} unfinished (interrupted)" if unfinished else "")]
    if exp is not None and scheduler:
        lines.append(scheduler_effect(exp, scheduler))
    if table is not None:
        lines += ["", f"top {TOP_K} by best {metric} (each trial's best epoch, as table, best and report rank "
                  f"them; last_{metric} is the last epoch's):", table]
    if counts["ERROR"]:
        lines.append(f"errors: see {exp_dir}/trial_*/error.txt")
    if hidden_tracebacks:
        lines.append(f"({hidden_tracebacks} 'SystemExit' tracebacks from trials that schedulers stopped early "
                     "were hidden: they are harmless)")
    lines += ["", f"experiment  {exp_dir}", f"tables      hwk4tune table {exp_dir}"]
    if unfinished:
        lines.append(f"resume      hwk4tune resume {exp_dir}")
    return "\n".join(lines)


def scheduler_effect(exp, scheduler: str) -> str:
    """What the scheduler did: trials stopped early (asha, hyperband, median), perturbations (pbt, pb2)."""
    t = exp.trials
    n = len(t)
    if scheduler in ("pbt", "pb2"):
        changes = int(t["perturbations"].sum()) if "perturbations" in t and n else 0
        perturbed = int((t["perturbations"] > 0).sum()) if "perturbations" in t and n else 0
        return f"scheduler {scheduler}: {changes} perturbations, in {perturbed} of {n} trials"
    stopped = exp.counts()["stopped_early"]
    if scheduler == "fifo":
        return f"scheduler fifo: stops no trial ({stopped} of {n} trials ended before max_epochs)"
    return f"scheduler {scheduler}: stopped {stopped} of {n} trials early"


def _saved_experiment(exp_dir: str):
    if is_uri(exp_dir):
        return None
    from hwk4tune.results import load_experiment

    return load_experiment(exp_dir)


def top_trials(exp, k: int = TOP_K) -> str | None:
    """The first k trials of :meth:`Experiment.ranked`: best value, its epoch, the last value, config."""
    ranked = exp.ranked().head(k)
    if ranked.empty:
        return None
    config_cols = [c for c in ranked.columns if isinstance(c, str) and c.startswith("config/")]
    cols = ["trial_id", exp.best_column, "best_epoch", f"last_{exp.metric}"] + config_cols
    shown = ranked[[c for c in cols if c in ranked]].rename(columns={c: c.removeprefix("config/") for c in config_cols})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _top_in_memory(results, k: int = TOP_K) -> str | None:
    """Remote storage: each trial's best report from Tune's in-memory results, ranked the same way."""
    import pandas as pd

    analysis = results._experiment_analysis
    metric, mode = analysis.default_metric, analysis.default_mode
    rows = []
    for r in results:
        df = r.metrics_dataframe
        if df is None or df.empty or metric not in df or df[metric].dropna().empty:
            continue
        values = df[metric].astype(float)
        i = values.idxmax() if mode == "max" else values.idxmin()  # the first of equal values
        epoch_col = "epoch" if "epoch" in df else "training_iteration"
        rows.append({"trial_id": df["trial_id"].iloc[-1], f"best_{metric}": values[i],
                     "best_epoch": df[epoch_col][i], f"last_{metric}": values.iloc[-1]})
    if not rows:
        return None
    t = pd.DataFrame(rows)
    t = t.sort_values([f"best_{metric}", "best_epoch", "trial_id"], ascending=[mode == "min", True, True])
    return t.head(k).to_string(index=False, float_format=lambda v: f"{v:.4g}")
