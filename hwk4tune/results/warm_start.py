"""Earlier trials for a warm start (``warm_start:`` in a sweep file, ``--warm-start`` on ``run``), read
without Ray from experiment folders (local or ``s3://…``, through :func:`hwk4tune.store.remote.readable`) and
recorded tables (``.parquet`` of ``hwk4tune record``), and mapped onto today's space by stated rules:

- a trial of another trainable or data set is left out (a data set's subset may differ);
- a value outside today's range or choices is left out; so is a value that differs from today's constant;
- a hyperparameter today's space no longer has is removed (mapped);
- a new searched hyperparameter takes the trainable's default where today's range holds it (mapped), else
  the trial is left out; a new constant is today's constant (mapped);
- another metric or mode is an error (:class:`~hwk4tune.spec.SpecError`, one line naming the file and key).

An earlier trial's value is its best epoch's (the one definition of best, as ``table`` ranks); with several
objectives, its last report's values (what Ray's OptunaSearch tells Optuna). The plan's lines say how many
trials were used as they were, mapped and left out, one line per reason. ``warm_start.json`` in the new
experiment folder keeps the counts, so ``table`` and the summary tell earlier trials apart from the sweep's.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwk4tune.space import Param, flatten
from hwk4tune.spec import Problem, SpecError

WARM_START_FILE = "warm_start.json"
__all__ = ["WARM_START_FILE", "EarlierTrial", "EarlierSource", "WarmPlan", "read_source", "plan_warm_start",
           "warm_note", "read_warm_record"]


@dataclass(frozen=True)
class EarlierTrial:
    source: str
    trial_id: str
    config: dict[str, Any]  # flat ('/' between levels); mapped onto today's space in a plan
    values: tuple[float, ...]  # one per objective (the metric's alone without objectives)


@dataclass
class EarlierSource:
    path: str
    objectives: list[tuple[str, str]]  # (metric, mode), the first the sweep's metric
    trainable: str | None
    dataset: str | None
    trials: list[EarlierTrial]
    unfinished: int = 0


def _objectives(space: dict) -> list[tuple[str, str]]:
    if space.get("objectives"):
        return [(o["metric"], o.get("mode", "max")) for o in space["objectives"]]
    return [(space.get("metric", "val_accuracy"), space.get("mode", "max"))]


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_source(path: str) -> EarlierSource:
    """The finished trials of an experiment folder (or URI) or of a recorded table."""
    if str(path).endswith(".parquet"):
        return _from_table(path)
    from hwk4tune.results.load import load_experiment
    from hwk4tune.store.remote import readable

    exp = load_experiment(readable(path))
    space = exp.record.space if exp.record else {"metric": exp.metric, "mode": exp.mode}
    objectives = _objectives(space)
    t, h = exp.trials, exp.history
    trials, unfinished = [], 0
    for _, row in t.iterrows():
        tid = str(row["trial_id"])
        best = row.get(exp.best_column)
        if row["status"] != "TERMINATED" or not _finite(best):
            unfinished += 1
            continue
        values: tuple[float, ...] = (float(best),)
        if len(objectives) > 1:
            last = h[h["trial_id"].astype(str) == tid].iloc[-1]
            values = tuple(float(last[m]) for m, _ in objectives)
        trials.append(EarlierTrial(str(path), tid, flatten(exp.configs.get(tid, {})), values))
    dataset = exp.record.dataset.name if exp.record and exp.record.dataset else None
    return EarlierSource(str(path), objectives, exp.record.trainable if exp.record else None, dataset, trials,
                         unfinished)


def _from_table(path: str) -> EarlierSource:
    from hwk4tune.replay import read_table

    table = read_table(path)
    space = table.meta["space"]
    objectives = _objectives(space)
    (metric, mode), trials = objectives[0], []
    for cid, (config, curve) in enumerate(zip(table.configs, table.curves)):
        seen = [r[metric] for r in curve if _finite(r.get(metric))]
        if not seen:
            continue
        values = ((max if mode == "max" else min)(seen),)
        if len(objectives) > 1:
            values = tuple(float(curve[-1][m]) for m, _ in objectives)
        trials.append(EarlierTrial(str(path), str(cid), dict(config), values))
    dataset = space.get("dataset")
    return EarlierSource(str(path), objectives, space.get("trainable"),
                         dataset.get("name") if isinstance(dataset, dict) else dataset, trials)


@dataclass
class WarmPlan:
    """Earlier trials mapped onto today's space: ``trials`` (configs: today's searched parameters only, flat)
    best first, and why the others were left out."""

    mode: str
    trials: list[EarlierTrial]
    total: int = 0
    as_is: int = 0
    n_mapped: int = 0
    beyond_top: int = 0  # usable, but not among the ``top`` best
    mapped: Counter = field(default_factory=Counter)
    left_out: Counter = field(default_factory=Counter)
    skipped: int = 0  # random, grid: planned configs not run again (set by the searcher's builder)

    @property
    def configs(self) -> list[dict[str, Any]]:
        return [t.config for t in self.trials]

    @property
    def rewards(self) -> list[float]:
        return [t.values[0] for t in self.trials]

    def lines(self) -> list[str]:
        n_mapped, n_left = self.n_mapped, sum(self.left_out.values())
        out = [f"warm start ({self.mode}): {self.total} earlier trials: {self.as_is} used as they were, "
               f"{n_mapped} mapped, {n_left} left out"
               + (f"; the best {len(self.trials)} of them used (top: {len(self.trials)})" if self.beyond_top else "")]
        out += [f"  mapped {n}: {why}" for why, n in self.mapped.most_common()]
        out += [f"  left out {n}: {why}" for why, n in self.left_out.most_common()]
        return out


def _metric_problem(spec: Any, source: EarlierSource) -> Problem | None:
    ours = [(o.metric, o.mode) for o in spec.space.objectives] if spec.space.objectives else [
        (spec.space.metric, spec.space.mode)]
    if source.objectives == ours:
        return None
    theirs = ", ".join(f"{m}/{d}" for m, d in source.objectives)
    mine = ", ".join(f"{m}/{d}" for m, d in ours)
    message = f"{source.path} was tuned for {theirs}, this sweep for {mine}: warm start needs the same metric and mode"
    if spec.source is not None and Path(spec.source).is_file():  # named in the file, or by --warm-start
        from hwk4tune.spec.source import Source
        from hwk4tune.spec.warm_start import resolve_paths

        src = Source(Path(spec.source))
        data = {"warm_start": src.data.get("warm_start")}
        resolve_paths(data, src.resolve)
        written = (data["warm_start"] or {}).get("from") if isinstance(data["warm_start"], dict) else None
        if source.path in ([written] if isinstance(written, str) else written or []):
            return src.problem(("warm_start", "from"), message)
    return Problem("--warm-start", None, "warm_start.from", message)


def plan_warm_start(spec: Any, sources: list[EarlierSource] | None = None) -> WarmPlan | None:
    """The earlier trials of ``spec.warm_start`` mapped onto ``spec.space``; None without a warm start.
    Raises :class:`SpecError` for another metric or mode (one line per source)."""
    ws = spec.warm_start
    if ws is None:
        return None
    sources = sources if sources is not None else [read_source(p) for p in ws.paths]
    problems = [p for p in (_metric_problem(spec, s) for s in sources) if p is not None]
    if problems:
        raise SpecError(problems)
    plan = WarmPlan(ws.mode, [])
    for source in sources:
        plan.total += len(source.trials) + source.unfinished
        if source.unfinished:
            plan.left_out["not finished, or no value of the metric"] += source.unfinished
        _map_source(spec.space, source, plan)
    sign = -1 if sources and sources[0].objectives[0][1] == "max" else 1
    plan.trials.sort(key=lambda t: sign * t.values[0])
    if ws.top_k is not None and len(plan.trials) > ws.top_k:
        plan.beyond_top = len(plan.trials) - ws.top_k
        plan.trials = plan.trials[:ws.top_k]
    return plan


def _map_source(space: Any, source: EarlierSource, plan: WarmPlan) -> None:
    if source.trainable is not None and source.trainable != space.trainable:
        plan.left_out[f"another trainable ({source.trainable}, today {space.trainable})"] += len(source.trials)
        return
    today = space.dataset.name if space.dataset else None
    if source.dataset is not None and today is not None and source.dataset != today:
        plan.left_out[f"another data set ({source.dataset}, today {today})"] += len(source.trials)
        return
    for trial in source.trials:
        config, mapped, left = map_config(space, trial.config)
        if left is not None:
            plan.left_out[left] += 1
            continue
        plan.as_is += not mapped
        plan.n_mapped += bool(mapped)
        for why in mapped:
            plan.mapped[why] += 1
        plan.trials.append(EarlierTrial(trial.source, trial.trial_id, config, trial.values))


def _default(space: Any, name: str) -> Any:
    model = space.entry.hyperparameters
    info = model.model_fields.get(name) if model is not None else None
    return None if info is None or info.is_required() else info.get_default(call_default_factory=True)


def map_config(space: Any, earlier: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """(today's searched values, the mapping rules applied, why it is left out or None) of one earlier flat
    config; see the module's docstring for the rules."""
    leaves, mapped = dict(space.space.items()), []
    for name, value in earlier.items():
        if name not in leaves:
            mapped.append(f"dropped hyperparameter {name} removed")
        elif not isinstance(leaves[name], Param) and value != leaves[name]:
            return None, [], f"{name} differs from today's constant {leaves[name]!r}"
    values: dict[str, Any] = {}
    for name in space.space.active_params(earlier):
        p = space.params[name]
        if name not in earlier:
            default = _default(space, name)
            if default is None or not p.contains(default):
                return None, [], f"new hyperparameter {name} has no default inside today's space"
            mapped.append(f"new hyperparameter {name} takes its default {default!r}")
            earlier = {**earlier, name: default}
        if not p.contains(earlier[name]):
            return None, [], f"{name} outside today's space ({p.describe()})"
        values[name] = earlier[name]
    for name, value in leaves.items():
        if not isinstance(value, Param) and name not in earlier and space.space.is_active(name, values):
            mapped.append(f"new constant {name} takes today's value {value!r}")
    return values, mapped, None


# ------------------------------------------------------------------------------------------ the sweep's record


def warm_record(plan: WarmPlan, paths: list[str]) -> dict:
    """What ``warm_start.json`` holds: the sources and the counts (no configs)."""
    return {"sources": paths, "mode": plan.mode, "earlier_trials": plan.total, "given": len(plan.trials),
            "as_is": plan.as_is, "mapped": dict(plan.mapped), "left_out": dict(plan.left_out),
            "skipped": plan.skipped}


def read_warm_record(exp_dir: str | Path) -> dict | None:
    """The ``warm_start.json`` of a (local) experiment folder; None where the sweep had no warm start."""
    path = Path(exp_dir) / WARM_START_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def warm_note(exp_dir: str | Path) -> str | None:
    """One line for ``table`` and the summary: how many earlier trials seeded the searcher (they are not
    this sweep's trials, and no row of its tables)."""
    rec = read_warm_record(exp_dir)
    if rec is None:
        return None
    what = "ran again first" if rec["mode"] == "evaluate" else "seeded the searcher"
    skipped = f"; {rec['skipped']} planned configs already evaluated were skipped" if rec.get("skipped") else ""
    return (f"warm start: {rec['given']} earlier trials {what} (of {rec['earlier_trials']} in "
            f"{', '.join(rec['sources'])}; not counted among this sweep's trials){skipped}")
