"""Several objectives: a trial's values, the Pareto front, and the one configuration a person picks from it.

A trial is judged by its **last reported epoch** (a multi-objective sweep runs FIFO, so that is its final
model: the one ``train`` reproduces with the same epochs, and the values Optuna was told). A trial is on
the front when no other trial is at least as good in every objective and better in one (non-dominated);
trials without a finite value of every objective are left out.

``--where`` reads ``METRIC OP NUMBER`` with OP among ``>= <= > < ==`` (nothing is evaluated); a bad
expression is a :class:`~hwk4tune.results.experiment.ResultsError`, one line.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwk4tune.results.experiment import Experiment, ResultsError
from hwk4tune.store.records import BestConfig, BestTrial, plain

Objectives = list[tuple[str, str]]  # (metric, mode) in the space's order

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt}
_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_./]*)\s*(>=|<=|==|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def objectives_of(exp: Experiment) -> Objectives | None:
    """The experiment's objectives (from ``hwk4tune.json``'s space), None for a single-objective one."""
    space = exp.record.space if exp.record else {}
    given = space.get("objectives") if isinstance(space, dict) else None
    return [(o["metric"], o["mode"]) for o in given] if given else None


def dominated(values: np.ndarray, modes: list[str]) -> np.ndarray:
    """values: (n trials, k objectives); True where another row is at least as good in every objective and
    better in one. O(n^2 k), fine for the trial counts of a sweep."""
    v = np.where(np.array(modes) == "max", -values, values)  # all minimized
    n = len(v)
    out = np.zeros(n, dtype=bool)
    for i in range(n):
        others = np.delete(v, i, axis=0)
        out[i] = bool(np.any(np.all(others <= v[i], axis=1) & np.any(others < v[i], axis=1))) if n > 1 else False
    return out


def final_values(exp: Experiment, objectives: Objectives) -> pd.DataFrame:
    """One row per trial that reported: ``trial_id``, ``epoch`` (its last reported epoch) and each
    objective's value there."""
    metrics = [m for m, _ in objectives]
    h = exp.history
    if h.empty:
        return pd.DataFrame(columns=["trial_id", "epoch", *metrics])
    missing = [m for m in metrics if m not in h]
    if missing:
        raise ResultsError(f"{exp.path}: no trial reported {', '.join(missing)}")
    last = h.sort_values(["trial_id", "training_iteration", "_order"], kind="mergesort").groupby("trial_id").tail(1)
    out = last[["trial_id", "epoch", *metrics]].copy()
    for m in metrics:
        out[m] = pd.to_numeric(out[m], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def pareto_front(exp: Experiment, objectives: Objectives | None = None) -> pd.DataFrame:
    """The non-dominated trials, best first by the first objective: ``trial_id``, ``epoch``, the objectives,
    then the trial's ``config/*`` columns."""
    objectives = objectives or objectives_of(exp)
    if not objectives:
        raise ResultsError(f"{exp.path}: a single-objective experiment ({exp.metric}) has no Pareto front; its "
                           "space declares no objectives:")
    values = final_values(exp, objectives)
    metrics = [m for m, _ in objectives]
    values = values[values[metrics].map(math.isfinite).all(axis=1)]
    front = values[~dominated(values[metrics].to_numpy(), [md for _, md in objectives])]
    configs = exp.trials[["trial_id", *[c for c in exp.trials.columns if str(c).startswith("config/")]]]
    front = front.merge(configs, on="trial_id", how="left")
    return _ordered(front, objectives)


def _ordered(rows: pd.DataFrame, objectives: Objectives) -> pd.DataFrame:
    keys = [m for m, _ in objectives] + ["trial_id"]
    return rows.sort_values(keys, ascending=[md == "min" for _, md in objectives] + [True],
                            kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    def holds(self, column: pd.Series) -> pd.Series:
        return _OPS[self.op](column.astype(float), self.value)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_where(text: str) -> Condition:
    """``"val_accuracy>=0.98"`` -> Condition; a ResultsError naming the form otherwise."""
    m = _WHERE.match(text or "")
    if not m:
        raise ResultsError(f"--where {text!r}: expected METRIC OP NUMBER with OP one of >= <= > < ==, "
                           "e.g. \"val_accuracy>=0.98\"")
    return Condition(m.group(1), m.group(2), float(m.group(3)))


def pick(front: pd.DataFrame, objectives: Objectives, metric: str | None = None,
         where: list[Condition] | tuple[Condition, ...] = ()) -> pd.Series:
    """The front's row best by ``metric`` (an objective; default the first) among those meeting every
    condition (each names an objective); ties: the other objectives in order, then trial id."""
    modes = dict(objectives)
    metric = metric or objectives[0][0]
    for name, what in [(metric, "--pick")] + [(c.metric, f"--where {c}") for c in where]:
        if name not in modes:
            raise ResultsError(f"{what}: {name!r} is not an objective of this experiment "
                               f"(objectives: {', '.join(modes)})")
    rows = front
    for c in where:
        rows = rows[c.holds(rows[c.metric])]
    if rows.empty:
        raise ResultsError(f"no trial of the Pareto front ({len(front)} trials) meets "
                           f"{' and '.join(map(str, where))}")
    order = [(metric, modes[metric])] + [o for o in objectives if o[0] != metric]
    return _ordered(rows, order).iloc[0]


def picked_yaml(exp: Experiment, row: pd.Series, metric: str, mode: str) -> BestConfig:
    """best.yaml for a row of the front: its configuration trained for its last epoch."""
    if exp.record is None:
        raise ResultsError(f"{exp.path}: no hwk4tune.json: cannot write a file that `hwk4tune train` takes")
    trial_id = str(row["trial_id"])
    trial = exp.trials[exp.trials["trial_id"] == trial_id].iloc[0]
    epoch = int(row["epoch"])
    checkpoint = trial.get("last_checkpoint")
    return BestConfig(
        trainable=exp.record.trainable, dataset=exp.record.dataset, config=exp.configs.get(trial_id, {}),
        metric=metric, mode=mode, epochs=epoch,
        best=BestTrial(value=plain(row[metric]), epoch=epoch, trial_id=trial_id,
                       checkpoint=checkpoint if isinstance(checkpoint, str) else None),
        experiment=str(exp.path), label=exp.record.label)


def write_front(exp: Experiment, front: pd.DataFrame, folder: str | Path) -> tuple[Path, Path]:
    """``pareto.csv`` (every column) and ``pareto.md`` into ``folder``."""
    from hwk4tune.results.tables import to_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv, md = folder / "pareto.csv", folder / "pareto.md"
    front.to_csv(csv, index=False)
    objectives = objectives_of(exp) or []
    head = ", ".join(f"{md_} {m}" for m, md_ in objectives)
    md.write_text(f"# Pareto front of {exp.path}\n\nObjectives: {head}; each trial at its last reported epoch.\n\n"
                  f"{to_markdown(front)}\n")
    return csv, md


def write_picked(exp: Experiment, output: str | Path, metric: str | None = None,
                 where: list[str] | tuple[str, ...] = ()) -> tuple[pd.Series, pd.DataFrame, Path]:
    """``hwk4tune best`` on several objectives: the front into pareto.csv/md next to ``output``, and the row
    picked by ``metric`` among those meeting ``where`` into ``output`` (best.yaml)."""
    objectives = objectives_of(exp)
    if not objectives:
        raise ResultsError(f"{exp.path}: --pick and --where choose from a Pareto front, but this experiment has "
                           f"one objective ({exp.metric})")
    conditions = [parse_where(w) for w in where]
    front = pareto_front(exp, objectives)
    if front.empty:
        raise ResultsError(f"{exp.path}: no trial reported every objective ({', '.join(m for m, _ in objectives)})")
    row = pick(front, objectives, metric, conditions)
    metric = metric or objectives[0][0]
    out = Path(output)
    write_front(exp, front, out.parent)
    rules = f" among those with {' and '.join(map(str, conditions))}" if conditions else ""
    header = (f"# Picked from the Pareto front of {exp.path} ({len(front)} trials, in pareto.md): best {metric}"
              f"{rules}; each trial at its last epoch.\n# Train it for real:  hwk4tune train {out}\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(picked_yaml(exp, row, metric, dict(objectives)[metric]).to_yaml(header))
    return row, front, out


def hypervolume_history(exp: Experiment, objectives: Objectives, reference: list[float]):
    """Hypervolume of the finished trials' points (each at its last report) after each report in time order:
    the columns of :meth:`Experiment.curve` (``epochs``, ``elapsed_s``, ``value``, ``best``), ``best`` being
    the hypervolume so far. How a multi-objective comparison reads a run's progress over the budget."""
    from hwk4tune.results.hypervolume import hypervolume

    h = exp.history.sort_values(["elapsed_s", "_order"], kind="mergesort")
    metrics, modes = [m for m, _ in objectives], [md for _, md in objectives]
    is_last = (h["_order"] == h.groupby("trial_id")["_order"].transform("max")).to_numpy()
    values = h[metrics].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    done: list[np.ndarray] = []
    hv: list[float] = []
    for i in range(len(h)):
        if is_last[i]:
            done.append(values[i])
            hv.append(hypervolume(np.array(done), reference, modes))
        else:
            hv.append(hv[-1] if hv else 0.0)
    return pd.DataFrame({"epochs": range(1, len(h) + 1), "elapsed_s": h["elapsed_s"].to_numpy(),
                         "value": hv, "best": hv})
