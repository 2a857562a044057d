"""The text a sweep prints when it ends: counts, the top trials, where the experiment is, what next."""

from __future__ import annotations

from hwk4tune.spec import SweepSpec
from hwk4tune.store.records import is_uri

TOP_K = 5


def planned_trials(spec: SweepSpec) -> int:
    """How many trials the sweep runs: ``num_samples``, times the valid combinations of the grid (all of
    them, unless conditions leave some grid parameters out)."""
    return spec.num_samples * len(spec.space.space.grid_points())


def summary(exp_dir: str, spec: SweepSpec, hidden_tracebacks: int = 0) -> str:
    """The end-of-sweep text, from the experiment as Tune saved it (as `hwk4tune table` reads it; a URI's local
    mirror): after Ctrl-C, the trials Tune stopped are RUNNING there. The top trials are ranked as `table`,
    `best`, `report` and `compare` rank them: by each trial's best epoch (one definition of best,
    :meth:`hwk4tune.results.Experiment.ranked`)."""
    from hwk4tune.results import STATUSES, load_experiment
    from hwk4tune.results.warm_start import read_warm_record
    from hwk4tune.store.remote import readable
    from hwk4tune.store.stopping_file import describe_budget

    exp = load_experiment(readable(exp_dir))
    c = exp.counts()
    warm = read_warm_record(exp.path) or {}
    planned = planned_trials(spec) - warm.get("skipped", 0)  # random, grid: configs a warm start evaluated
    unfinished = c["RUNNING"] + c["PENDING"] + max(0, planned - sum(c[s] for s in STATUSES))
    lines = ["", f"{planned} trials planned: {c['TERMINATED']} finished, {c['ERROR']} errors"
                 + (f", {unfinished} unfinished (interrupted)" if unfinished else ""),
             scheduler_effect(exp, spec.scheduler)]
    table = top_trials(exp)
    if table is not None:
        lines += ["", f"top {TOP_K} by best {exp.metric} (each trial's best epoch, as table, best and report rank "
                  f"them; last_{exp.metric} is the last epoch's):", table]
    if c["ERROR"]:
        lines.append(f"errors: see {exp_dir}/trial_*/error.txt")
    if hidden_tracebacks:
        lines.append(f"({hidden_tracebacks} 'SystemExit' tracebacks from trials that schedulers stopped early "
                     "were hidden: they are harmless)")
    lines += ["", f"experiment  {exp_dir}", f"tables      hwk4tune table {exp_dir}"]
    if unfinished:
        lines.append(f"resume      hwk4tune resume {exp_dir}")
    budget = None if is_uri(exp_dir) else describe_budget(exp_dir)  # why `stop:` rules ended the sweep
    return "\n".join(lines + ([budget] if budget else []))


def scheduler_effect(exp, scheduler) -> str:
    """What the scheduler (a :mod:`hwk4tune.spec.strategies` model) did: trials stopped early (asha, hyperband,
    median), perturbations (pbt, pb2: the schedulers that clone trials from any epoch's checkpoint)."""
    t, name = exp.trials, scheduler.name
    n = len(t)
    if scheduler.keeps_every_checkpoint:
        changes = int(t["perturbations"].sum()) if "perturbations" in t and n else 0
        perturbed = int((t["perturbations"] > 0).sum()) if "perturbations" in t and n else 0
        return f"scheduler {name}: {changes} perturbations, in {perturbed} of {n} trials"
    stopped = exp.counts()["stopped_early"]
    if not scheduler.acts_on_trials:
        return f"scheduler {name}: stops no trial ({stopped} of {n} trials ended before max_epochs)"
    return f"scheduler {name}: stopped {stopped} of {n} trials early"


def top_trials(exp, k: int = TOP_K) -> str | None:
    """The first k trials of :meth:`Experiment.ranked`: best value, its epoch, the last value, config."""
    ranked = exp.ranked().head(k)
    if ranked.empty:
        return None
    config_cols = [c for c in ranked.columns if isinstance(c, str) and c.startswith("config/")]
    cols = ["trial_id", exp.best_column, "best_epoch", f"last_{exp.metric}"] + config_cols
    shown = ranked[[c for c in cols if c in ranked]].rename(columns={c: c.removeprefix("config/") for c in config_cols})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")
