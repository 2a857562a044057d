"""One experiment read into tables (:class:`Experiment`), and the rules that pick its best trial.

The best trial is chosen deterministically: best metric, then the fewer epochs to reach it, then the
smaller trial id. A trial's configuration (:func:`config_at_best`) is the one in force at its best epoch:
PBT and PB2 change hyperparameters while a trial trains, and that is the configuration that reached the
trial's best value. The ``config/*`` columns of the trials table, :meth:`Experiment.best_config` (which
``hwk4tune best`` writes and the HTML report shows) all come from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hwk4tune.errors import InputError
from hwk4tune.store.records import ExperimentRecord, plain
from hwk4tune.store.tune_files import finite

STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING")
RANK_TIES = ("best_epoch", "trial_id")  # ties of the best value: fewer epochs to reach it, then the smaller id


class ResultsError(InputError, ValueError):
    """A folder that is not an experiment, or one that lacks what was asked of it."""


def best_rule(metric: str) -> str:
    """The one definition of "best", as table captions, the run summary and the report state it."""
    return (f"best_{metric} = each trial's best epoch's value (best_epoch = that epoch; ties: fewer epochs, then "
            f"trial id); last_{metric} = its last epoch's")


def rank_trials(trials: pd.DataFrame, column: str, mode: str) -> pd.DataFrame:
    """Trials by ``column``, best first for ``mode`` (rows without a value last); ties: fewer epochs to the
    best, then the smaller trial id. The one ranking that the best trial, the tables and the summaries share."""
    ties = [key for key in RANK_TIES if key in trials and key != column]
    return trials.sort_values([column, *ties], ascending=[mode == "min"] + [True] * len(ties), kind="mergesort",
                              na_position="last")


def config_at_best(best_report: dict | None, start_config: dict | None) -> dict:
    """A trial's hyperparameters at its best epoch (Tune writes the config into every report); the start
    config for a trial that reported no finite value of the metric."""
    config = (best_report or {}).get("config")
    return plain(config if isinstance(config, dict) else (start_config or {}))


@dataclass
class Experiment:
    """One experiment folder read into tables; ``record`` is its ``hwk4tune.json`` (None for a plain Tune
    run). ``configs``: trial id -> :func:`config_at_best`."""

    path: Path
    record: ExperimentRecord | None
    metric: str
    mode: str
    trials: pd.DataFrame
    history: pd.DataFrame
    configs: dict[str, dict] = field(default_factory=dict)
    start_time: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def max_epochs(self) -> int | None:
        return self.record.max_epochs if self.record else None

    @property
    def label(self) -> str | None:
        return self.record.label if self.record else None

    @property
    def best_column(self) -> str:
        return f"best_{self.metric}"

    def counts(self) -> dict[str, int]:
        """Trials by status, plus ``stopped_early`` and ``diverged``."""
        t = self.trials
        out = {s: int((t["status"] == s).sum()) for s in STATUSES} if len(t) else {s: 0 for s in STATUSES}
        out["stopped_early"] = int(t["stopped_early"].sum()) if len(t) else 0
        out["diverged"] = int(t["diverged"].sum()) if len(t) else 0
        return out

    def ranked(self) -> pd.DataFrame:
        """Trials with a finite best metric, best first (ties: fewer epochs to the best, then trial id)."""
        t = self.trials
        col = self.best_column
        if not len(t) or col not in t:
            return t.iloc[0:0]
        return rank_trials(t[t[col].map(finite)], col, self.mode)

    def best(self) -> pd.Series:
        """The best trial's row; :class:`ResultsError` when no trial reported the metric."""
        ranked = self.ranked()
        if ranked.empty:
            raise ResultsError(f"{self.path}: no trial reported {self.metric} (statuses: {self.counts()})")
        return ranked.iloc[0]

    def best_config(self) -> dict:
        """The hyperparameters of the best trial at its best epoch: what ``best.yaml`` holds and the report
        shows."""
        return self.configs.get(str(self.best()["trial_id"]), {})

    def curve(self) -> pd.DataFrame:
        """Best-so-far of the metric over the experiment's reports in time order: columns ``epochs``
        (cumulative epochs trained by all trials), ``elapsed_s``, ``value``, ``best``."""
        h = self.history
        if h.empty or self.metric not in h:
            return pd.DataFrame(columns=["epochs", "elapsed_s", "value", "best"])
        h = h.sort_values(["elapsed_s", "_order"], kind="mergesort")
        values = h[self.metric].astype(float)
        values = values.where(values.map(math.isfinite))
        best = values.cummax() if self.mode == "max" else values.cummin()
        return pd.DataFrame({
            "epochs": range(1, len(h) + 1),  # every report is one epoch of one trial
            "elapsed_s": h["elapsed_s"].to_numpy(),
            "value": values.to_numpy(),
            "best": best.to_numpy(),
        })
