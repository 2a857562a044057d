"""An experiment folder (or a ResultGrid) -> :class:`~hwk4tune.results.experiment.Experiment`, without Ray.

Two tables:

- ``trials``: one row per trial — ``experiment``, ``strategy`` (the label in ``hwk4tune.json``) and
  ``seed`` where the folder has one, ``trial_id``, ``status`` (TERMINATED / ERROR / RUNNING / PENDING),
  ``stop_reason`` (why it ended: finished, scheduler, plateau, target, budget, diverged, error; see
  :mod:`~hwk4tune.results.stop_reasons`),
  ``epochs`` (reports = epochs this trial trained), ``last_epoch``, ``best_<metric>``, ``best_epoch``,
  ``last_<metric>``, ``last_train_loss`` / ``last_val_loss`` / ``last_val_accuracy``, ``stopped_early``
  (a scheduler ended it before ``max_epochs``), ``diverged``, ``wall_s`` (the trial's own training time),
  ``images_per_second``, ``device``, ``weights``, ``num_failures``, ``error`` (the exception's last line),
  ``checkpoint`` (of the best epoch, where it was kept), ``last_checkpoint``, ``trial_dir``, then
  ``config/<key>``: the trial's hyperparameters at its best epoch (nested keys joined with ``/``);
- ``history``: one row per trial-epoch — ``experiment``, ``trial_id``, ``training_iteration``, ``epoch``,
  the reported metrics, ``time_total_s``, ``timestamp`` and ``elapsed_s`` (seconds since the experiment
  started: the x axis of wall-time curves).

It works on finished, interrupted (killed) and errored experiments, and on a folder copied from another
machine: no path stored inside the files is trusted, only paths relative to the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hwk4tune.registry import SCORES
from hwk4tune.results.experiment import Experiment, ResultsError, config_at_best
from hwk4tune.results.stop_reasons import stop_reasons
from hwk4tune.space import flatten
from hwk4tune.store import tune_files as tf
from hwk4tune.store.records import (
    METADATA_FILE,
    ExperimentRecord,
    is_experiment_dir,
    is_uri,
    read_record,
    storage_location,
)

# result.json keys that are not metrics of the trial (Ray's bookkeeping)
_NOT_METRICS = {"config", "date", "hostname", "node_ip", "pid", "experiment_tag", "trial_id", "done",
                "should_checkpoint", "checkpoint_dir_name", "weights", "train_status", "threads",
                "time_since_restore", "iterations_since_restore", "time_this_iter_s"}
_EMPTY_TRIALS = ["experiment", "trial_id", "status", "epochs", "last_epoch", "best_epoch", "stopped_early", "perturbations",
                 "diverged", "wall_s", "num_failures", "error", "checkpoint", "last_checkpoint", "trial_dir"]


def _source_dir(source: Any) -> Path:
    if hasattr(source, "experiment_path"):  # a ray.tune.ResultGrid
        path = str(source.experiment_path)
        if is_uri(path):
            raise ResultsError(f"{path}: results in remote storage: copy the folder locally first")
        return Path(storage_location(path))
    return Path(source).expanduser()


def read_experiment_record(exp: Path) -> ExperimentRecord | None:
    """The folder's ``hwk4tune.json`` (None for a plain Tune experiment)."""
    return read_record(ExperimentRecord, exp / METADATA_FILE) if (exp / METADATA_FILE).is_file() else None


def load_experiment(source: str | Path | Any, *, metric: str | None = None, mode: str | None = None) -> Experiment:
    """Read an experiment folder (or a ``ResultGrid``: its folder is read) into an :class:`Experiment`.

    ``metric``/``mode`` default to the ones in ``hwk4tune.json``, else ``val_accuracy``/``max``.
    Starts no Ray. Raises :class:`ResultsError` for a folder that is not an experiment.
    """
    exp = _source_dir(source).resolve()
    if not exp.is_dir():
        raise ResultsError(f"{exp}: no such folder")
    if not is_experiment_dir(exp):
        raise ResultsError(f"{exp}: not an experiment folder (no {METADATA_FILE}, no {tf.STATE_GLOB})")
    record = read_experiment_record(exp)
    metric = metric or (record.metric if record else "val_accuracy")
    mode = mode or (record.mode if record else "max")
    if mode not in ("max", "min"):
        raise ResultsError(f"mode must be max or min, but got {mode!r}")
    state, start = tf.experiment_state(exp)
    by_id, reports_of = _trials_on_disk(exp, state)
    exploited = tf.exploits(exp)

    notes: list[str] = []
    trial_rows, history_rows, configs, first_times = [], [], {}, []
    for trial_id in sorted(by_id):
        d, info = by_id[trial_id], state.get(trial_id, {})
        reports = reports_of.get(trial_id, [])
        if not reports and tf.finite((info.get("last_result") or {}).get("training_iteration")):
            reports = [info["last_result"]]  # result.json lost (driver killed): Tune's last record
            notes.append(f"trial {trial_id}: result.json empty, using Tune's saved last result")
        first = next((r for r in reports if tf.finite(r.get("timestamp"))), None)
        if first is not None:
            first_times.append(float(first["timestamp"]) - float(first.get("time_this_iter_s") or 0))
        row, best_report = _trial_row(exp, trial_id, d, info, reports, metric, mode,
                                      record.max_epochs if record else None)
        if exploited is not None:
            row["perturbations"] = exploited.get(trial_id, 0)
        configs[trial_id] = config_at_best(best_report, info.get("config") or tf.params(d))
        row.update(flatten(configs[trial_id], prefix="config/"))
        if not reports and d is not None and row["status"] != "ERROR" and tf.checkpoints(d):
            notes.append(f"trial {trial_id}: checkpoints but no reports in result.json (the driver was killed "
                         "before it wrote them)")
        trial_rows.append(row)
        history_rows += _history_rows(exp.name, trial_id, info, reports)

    if start is None:
        start = min(first_times) if first_times else None
    empty = pd.DataFrame(columns=[*_EMPTY_TRIALS, f"best_{metric}", f"last_{metric}"])
    trials = _typed(pd.DataFrame(trial_rows) if trial_rows else empty)
    trials.insert(3, "stop_reason", stop_reasons(exp, trials, record.max_epochs if record else None))
    if record is not None:
        trials.insert(1, "strategy", record.label)
        trials.insert(2, "seed", record.seed)
    return Experiment(path=exp, record=record, metric=metric, mode=mode, trials=trials,
                      history=_history(history_rows, start, metric), configs=configs, start_time=start, notes=notes)


def _trials_on_disk(exp: Path, state: dict[str, dict]) -> tuple[dict[str, Path | None], dict[str, list[dict]]]:
    """trial id -> its folder (Tune's record first, then every trial folder: newer than the state) and
    trial id -> its reports (one per epoch)."""
    by_id: dict[str, Path | None] = {}
    for trial_id, info in state.items():
        d = exp / info["dir"] if info.get("dir") else None
        by_id[trial_id] = d if d is not None and d.is_dir() else None
    reports_of: dict[str, list[dict]] = {}
    for d in sorted(p for p in exp.iterdir() if tf.is_trial_dir(p)):
        reports = tf.latest_per_epoch(tf.read_json_lines(d / "result.json"))
        trial_id = next((r["trial_id"] for r in reports if r.get("trial_id")), None) or tf.id_from_dir(d, state)
        if trial_id is None:
            continue
        if by_id.get(trial_id) is None:
            by_id[trial_id] = d
        reports_of[trial_id] = reports
    for trial_id, d in by_id.items():
        if trial_id not in reports_of and d is not None:
            reports_of[trial_id] = tf.latest_per_epoch(tf.read_json_lines(d / "result.json"))
    return by_id, reports_of


def _trial_row(exp: Path, trial_id: str, d: Path | None, info: dict, reports: list[dict], metric: str,
               mode: str, max_epochs: int | None) -> tuple[dict, dict | None]:
    """One row of the trials table (without the config columns) and the report at the trial's best epoch."""
    status = tf.status(info.get("status"), reports, d)
    error = tf.error_message(d) if status == "ERROR" or (d and (d / "error.txt").is_file()) else None
    if status == "ERROR" and error is None and info.get("error_file"):
        error = f"(see {info['error_file']})"
    finite = [(r[metric], r) for r in reports if tf.finite(r.get(metric))]
    best_value, best_report = (None, None)
    if finite:
        best_value = (max if mode == "max" else min)(v for v, _ in finite)
        best_report = next(r for v, r in finite if v == best_value)  # the earliest report reaching it
    last = reports[-1] if reports else {}
    last_epoch = tf.epoch_of(last) if reports else None
    diverged = any(r.get("train_status") == "diverged" for r in reports)
    ckpts = tf.checkpoints(d)
    checkpoint = None
    if best_report is not None and best_report.get("checkpoint_dir_name"):
        m = tf.CHECKPOINT_DIR.match(str(best_report["checkpoint_dir_name"]))
        if m and int(m.group(1)) in ckpts:
            checkpoint = str(ckpts[int(m.group(1))])
    row = {"experiment": exp.name, "trial_id": trial_id, "status": status, "epochs": len(reports),
           "last_epoch": last_epoch, f"best_{metric}": best_value, "best_epoch": tf.epoch_of(best_report),
           f"last_{metric}": last.get(metric)}
    for name in SCORES:  # the built-in scores' last values, whatever the metric
        if name != metric:
            row[f"last_{name}"] = last.get(name)
    row.update({
        "stopped_early": bool(status == "TERMINATED" and not diverged and max_epochs is not None
                              and last_epoch is not None and last_epoch < max_epochs),
        "diverged": diverged,
        "perturbations": config_changes(reports),
        "wall_s": last.get("time_total_s"),
        # training speed and where it ran: what GPU and cluster users compare configs by
        "images_per_second": _mean([r.get("images_per_second") for r in reports]),
        "device": last.get("device"),
        "weights": last.get("weights"),
        "num_failures": info.get("num_failures", 0) or 0,
        "error": error,
        "checkpoint": checkpoint,
        "last_checkpoint": str(ckpts[max(ckpts)]) if ckpts else None,
        "trial_dir": d.name if d else None,
    })
    return row, best_report


def config_changes(reports: list[dict]) -> int:
    """How often a trial's configuration changed between two reports (PBT and PB2 perturb it): Tune writes
    the config in force into every report."""
    configs = [r.get("config") for r in reports if isinstance(r.get("config"), dict)]
    return sum(1 for a, b in zip(configs, configs[1:]) if a != b)


def _history_rows(experiment: str, trial_id: str, info: dict, reports: list[dict]) -> list[dict]:
    """When a report happened, to the sub-second: the trial's start + its time, unless the trial was ever
    restored (PBT, resume: its time then counts from elsewhere); else Ray's whole-second timestamp."""
    t0 = info.get("start_time")
    never_restored = all(r.get("iterations_since_restore") == r.get("training_iteration") for r in reports)
    rows = []
    for r in reports:
        when = r.get("timestamp")
        if tf.finite(t0) and never_restored and tf.finite(r.get("time_total_s")):
            precise = float(t0) + float(r["time_total_s"])
            if not tf.finite(when) or abs(precise - float(when)) < 2.0:
                when = precise
        h = {"experiment": experiment, "trial_id": trial_id, "training_iteration": r.get("training_iteration"),
             "epoch": tf.epoch_of(r), "_when": when}
        for k, v in r.items():
            if k not in _NOT_METRICS and k not in h and not isinstance(v, (dict, list)):
                h[k] = v
        rows.append(h)
    return rows


def _history(rows: list[dict], start: float | None, metric: str) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=["experiment", "trial_id", "training_iteration", "epoch", metric,
                                     "timestamp", "elapsed_s", "_order"])
    history = pd.DataFrame(rows)
    history["_order"] = range(len(history))
    when = pd.to_numeric(history.pop("_when"), errors="coerce")
    history["elapsed_s"] = (when - start) if start is not None else float("nan")
    history = history.sort_values(["elapsed_s", "_order"], kind="mergesort", na_position="last")
    history["_order"] = range(len(history))
    return history.reset_index(drop=True)


def _typed(trials: pd.DataFrame) -> pd.DataFrame:
    for col in trials.columns:
        if col in ("epochs", "num_failures"):
            trials[col] = trials[col].astype("int64")
        elif col in ("last_epoch", "best_epoch"):
            trials[col] = pd.to_numeric(trials[col], errors="coerce").astype("Int64")
        elif col.startswith(("best_", "last_")) and col != "last_checkpoint" or col == "wall_s":
            trials[col] = pd.to_numeric(trials[col], errors="coerce").astype("float64")
    return trials


def _mean(values: list) -> float | None:
    """Mean of the finite numbers among ``values``; None when there are none."""
    finite = [float(v) for v in values if tf.finite(v)]
    return sum(finite) / len(finite) if finite else None
