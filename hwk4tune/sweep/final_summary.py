"""The text a sweep prints when it ends: counts, the top trials, where the experiment is, what next."""

from __future__ import annotations

from hwk4tune.records import is_uri
from hwk4tune.spec import SweepSpec

TOP_K = 5


def planned_trials(spec: SweepSpec) -> int:
    """How many trials the sweep runs: ``num_samples``, times the valid combinations of the grid (all of
    them, unless conditions leave some grid parameters out)."""
    return spec.num_samples * len(spec.space.space.grid_points())


def summary(results, exp_dir: str, planned: int, hidden_tracebacks: int = 0) -> str:
    """The end-of-sweep text.

    Counts come from what Tune saved (as `hwk4tune table` reads it): after Ctrl-C, the trials Tune stopped
    stay RUNNING there, while the in-memory result calls them TERMINATED.
    """
    counts = _saved_counts(exp_dir)
    if counts is None:  # remote storage: the in-memory view
        statuses = [t.status for t in results._experiment_analysis.trials]
        counts = {s: statuses.count(s) for s in ("TERMINATED", "ERROR")}
        counts["unfinished"] = len(statuses) - counts["TERMINATED"] - counts["ERROR"]
    unfinished = counts["unfinished"] + max(0, planned - sum(counts.values()))
    lines = ["", f"{planned} trials planned: {counts['TERMINATED']} finished, {counts['ERROR']} errors"
                 + (f", {unfinished} unfinished (interrupted)" if unfinished else "")]
    table = top_trials(results)
    if table is not None:
        lines += ["", f"top {TOP_K} by {results._experiment_analysis.default_metric}:", table]
    if counts["ERROR"]:
        lines.append(f"errors: see {exp_dir}/trial_*/error.txt")
    if hidden_tracebacks:
        lines.append(f"({hidden_tracebacks} 'SystemExit' tracebacks from trials that schedulers stopped early "
                     "were hidden: they are harmless)")
    lines += ["", f"experiment  {exp_dir}", f"tables      hwk4tune table {exp_dir}"]
    if unfinished:
        lines.append(f"resume      hwk4tune resume {exp_dir}")
    return "\n".join(lines)


def _saved_counts(exp_dir: str) -> dict[str, int] | None:
    if is_uri(exp_dir):
        return None
    from hwk4tune.results import load_experiment

    counts = load_experiment(exp_dir).counts()
    return {"TERMINATED": counts["TERMINATED"], "ERROR": counts["ERROR"],
            "unfinished": counts["RUNNING"] + counts["PENDING"]}


def top_trials(results, k: int = TOP_K) -> str | None:
    analysis = results._experiment_analysis
    metric, mode = analysis.default_metric, analysis.default_mode
    df = results.get_dataframe()
    if df.empty or metric not in df:
        return None
    df = df.dropna(subset=[metric]).sort_values(metric, ascending=(mode == "min")).head(k)
    config_cols = [c for c in df.columns if c.startswith("config/")]
    cols = ["trial_id", metric] + [c for c in ("epoch", "training_iteration") if c in df][:1] + config_cols
    shown = df[cols].rename(columns={c: c.removeprefix("config/") for c in config_cols})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")
