"""An experiment folder (or a ResultGrid) as tidy pandas tables — without starting Ray.

Everything is read from the files Ray and :mod:`hwk4tune.sweep` leave in ``STORAGE/NAME/``:

- ``hwk4tune.json`` (our metadata: metric, mode, trainable, data set, strategy, seed, budget);
- ``experiment_state-*.json`` (Tune's own: each trial's status, start time, failures, error file);
- per trial folder: ``result.json`` (one JSON line per report), ``params.json``, ``error.txt``.

So it works on finished, interrupted (killed) and errored experiments, and on a folder copied from another
machine: no path stored inside the files is trusted, only paths relative to the folder.

Two tables (:class:`Experiment`):

- ``trials``: one row per trial — ``experiment``, ``trial_id``, ``status`` (TERMINATED / ERROR / RUNNING /
  PENDING), ``epochs`` (reports = epochs this trial trained), ``last_epoch``, ``best_<metric>``,
  ``best_epoch``, ``last_<metric>``, ``last_train_loss`` / ``last_val_loss`` / ``last_val_accuracy``,
  ``stopped_early`` (a scheduler ended it before ``max_epochs``), ``diverged``, ``wall_s`` (the trial's own
  training time), ``num_failures``, ``error`` (the exception's last line), ``checkpoint`` (of the best
  epoch, where it was kept), ``trial_dir``, then ``config/<key>`` (nested keys joined with ``/``);
- ``history``: one row per trial-epoch — ``experiment``, ``trial_id``, ``training_iteration``, ``epoch``,
  the reported metrics, ``time_total_s``, ``timestamp`` and ``elapsed_s`` (seconds since the experiment
  started: the x axis of wall-time curves).

The best trial (:meth:`Experiment.best`) is chosen deterministically: best metric, then the fewer epochs
to reach it, then the smaller trial id.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from hwk4tune.errors import InputError

__all__ = ["Experiment", "ResultsError", "load_experiment", "load_experiments", "is_experiment_dir",
           "best_yaml", "write_best", "format_table", "write_table", "display_columns", "sort_trials",
           "STATUSES", "TABLE_FORMATS", "METADATA_FILE"]

METADATA_FILE = "hwk4tune.json"  # same name as sweep.METADATA_FILE; not imported so that no Ray is needed
STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING")
TABLE_FORMATS = ("md", "csv", "html", "parquet", "json")
LAST_METRICS = ("train_loss", "val_loss", "val_accuracy")
# result.json keys that are not metrics of the trial (Ray's bookkeeping)
_NOT_METRICS = {"config", "date", "hostname", "node_ip", "pid", "experiment_tag", "trial_id", "done",
                "should_checkpoint", "checkpoint_dir_name", "weights", "train_status", "threads",
                "time_since_restore", "iterations_since_restore", "time_this_iter_s"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CKPT = re.compile(r"^checkpoint_(\d+)$")


class ResultsError(InputError, ValueError):
    """A folder that is not an experiment, or one that lacks what was asked of it."""


# ------------------------------------------------------------------------------------------ reading


def is_experiment_dir(path: str | Path) -> bool:
    """A folder of one Tune experiment: it has our metadata or Tune's experiment state."""
    p = Path(path)
    return p.is_dir() and ((p / METADATA_FILE).is_file() or any(p.glob("experiment_state-*.json")))


def _read_json_lines(path: Path) -> list[dict]:
    """The reports of ``result.json``; a torn last line (a killed driver) is skipped."""
    rows: list[dict] = []
    try:
        text = path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return rows
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            rows.append(value)
    return rows


def _experiment_state(exp: Path) -> tuple[dict[str, dict], float | None]:
    """Tune's view of each trial (by trial id) from the newest ``experiment_state-*.json``, and the
    experiment's start time. Empty when Tune never saved its state (a driver killed very early)."""
    files = sorted(exp.glob("experiment_state-*.json"))
    trials: dict[str, dict] = {}
    start = None
    for f in reversed(files):  # newest name last; fall back on an older one if the newest is torn
        try:
            data = json.loads(f.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        start = (data.get("stats") or {}).get("start_time")
        for item in data.get("trial_data", []):
            try:
                info, run = (json.loads(x) if isinstance(x, str) else x for x in item)
            except (ValueError, TypeError):
                continue
            trial_id = info.get("trial_id")
            if trial_id:
                trials[trial_id] = {
                    "status": info.get("status"),
                    "dir": info.get("relative_logdir"),
                    "config": info.get("config"),
                    "start_time": run.get("start_time"),
                    "num_failures": run.get("num_failures", 0),
                    "error_file": run.get("error_filename"),
                    "last_result": run.get("last_result") or {},
                }
        break
    return trials, start


def untracked_trial_dirs(exp: Path) -> list[Path]:
    """Trial folders that Tune's saved state does not know: trials started after its last save and before
    the driver was killed. Empty when Tune saved no state at all (then nothing can be told apart)."""
    state, _ = _experiment_state(exp)
    known = {info["dir"] for info in state.values() if info.get("dir")}
    if not state:
        return []
    return [p for p in sorted(exp.iterdir()) if _is_trial_dir(p) and p.name not in known]


def _error_message(trial_dir: Path | None) -> str | None:
    """The exception's last line (``ConfigError: invalid hyperparameters: lr = -1.0: ...``)."""
    if trial_dir is None:
        return None
    f = trial_dir / "error.txt"
    if not f.is_file():
        return None
    lines = [_ANSI.sub("", line).strip() for line in f.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith(("^", "Failure #"))]
    return lines[-1] if lines else "(empty error.txt)"


def _flatten(config: Any, prefix: str = "config/") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(config, dict):
        return out
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _checkpoints(trial_dir: Path | None) -> dict[int, Path]:
    if trial_dir is None or not trial_dir.is_dir():
        return {}
    found = {}
    for p in trial_dir.iterdir():
        m = _CKPT.match(p.name)
        if m and p.is_dir():
            found[int(m.group(1))] = p
    return found


def _is_trial_dir(p: Path) -> bool:
    """A trial's folder: what Tune writes into one (a killed driver may leave only checkpoints)."""
    if not p.is_dir() or p.name.startswith("."):
        return False
    if any((p / f).is_file() for f in ("params.json", "result.json", "error.txt")):
        return True
    return bool(_checkpoints(p))


def _mean(values: list) -> float | None:
    """Mean of the finite numbers among ``values``; None when there are none."""
    finite = [float(v) for v in values if _finite(v)]
    return sum(finite) / len(finite) if finite else None


def _finite(value: Any) -> bool:
    """A finite real number (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


@dataclass
class Experiment:
    """One experiment folder read into tables; ``meta`` is its ``hwk4tune.json`` ({} for a plain Tune run)."""

    path: Path
    meta: dict
    metric: str
    mode: str
    trials: pd.DataFrame
    history: pd.DataFrame
    start_time: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def max_epochs(self) -> int | None:
        return self.meta.get("max_epochs")

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
        t = t[t[col].map(_finite)].copy()
        sign = -1.0 if self.mode == "max" else 1.0
        t["_key"] = t[col].astype(float) * sign
        t["_epoch"] = t["best_epoch"].fillna(float("inf"))
        t = t.sort_values(["_key", "_epoch", "trial_id"], kind="mergesort")
        return t.drop(columns=["_key", "_epoch"])

    def best(self) -> pd.Series:
        """The best trial's row; :class:`ResultsError` when no trial reported the metric."""
        ranked = self.ranked()
        if ranked.empty:
            raise ResultsError(f"{self.path}: no trial reported {self.metric} (statuses: {self.counts()})")
        return ranked.iloc[0]

    def best_config(self) -> dict:
        """The hyperparameters of the best trial at its best epoch (PBT may have changed them on the way)."""
        return _best_row(self)["config"]

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


def _best_row(exp: Experiment) -> dict:
    """The best trial's report at its best epoch (raw, from result.json) and where its checkpoint is."""
    row = exp.best()
    trial_dir = exp.path / row["trial_dir"] if isinstance(row["trial_dir"], str) else None
    reports = _read_json_lines(trial_dir / "result.json") if trial_dir else []
    chosen = None
    for r in reports:
        v = r.get(exp.metric)
        if _finite(v) and v == row[exp.best_column]:
            chosen = r  # the earliest report reaching the best value (as best_epoch)
            break
    config = (chosen or {}).get("config") or _config_of(row)
    return {"row": row, "report": chosen or {}, "config": _plain(config)}


def _config_of(row: pd.Series) -> dict:
    out: dict = {}
    for col, value in row.items():
        if isinstance(col, str) and col.startswith("config/") and not (isinstance(value, float) and math.isnan(value)):
            keys = col.split("/")[1:]
            target = out
            for k in keys[:-1]:
                target = target.setdefault(k, {})
            target[keys[-1]] = value
    return out


def _plain(value: Any) -> Any:
    """numpy scalars and containers -> plain Python (for YAML and JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _source_dir(source: Any) -> Path:
    if hasattr(source, "experiment_path"):  # a ray.tune.ResultGrid
        path = str(source.experiment_path)
        if "://" in path:
            raise ResultsError(f"{path}: results in remote storage: copy the folder locally first")
        return Path(path)
    return Path(source).expanduser()


def load_experiment(source: str | Path | Any, *, metric: str | None = None, mode: str | None = None) -> Experiment:
    """Read an experiment folder (or a ``ResultGrid``: its folder is read) into an :class:`Experiment`.

    ``metric``/``mode`` default to the ones in ``hwk4tune.json``, else ``val_accuracy``/``max``.
    Starts no Ray. Raises :class:`ResultsError` for a folder that is not an experiment.
    """
    exp = _source_dir(source).resolve()
    if not exp.is_dir():
        raise ResultsError(f"{exp}: no such folder")
    state, start = _experiment_state(exp)
    meta: dict = {}
    if (exp / METADATA_FILE).is_file():
        try:
            meta = json.loads((exp / METADATA_FILE).read_text())
        except json.JSONDecodeError as e:
            raise ResultsError(f"{exp / METADATA_FILE}: not valid JSON ({e})") from None
    trial_dirs = sorted(p for p in exp.iterdir() if _is_trial_dir(p))
    if not meta and not state and not trial_dirs:
        raise ResultsError(f"{exp}: not an experiment folder (no {METADATA_FILE}, no experiment_state-*.json, "
                           "no trial folders)")
    metric = metric or meta.get("metric") or "val_accuracy"
    mode = mode or meta.get("mode") or "max"
    if mode not in ("max", "min"):
        raise ResultsError(f"mode must be max or min, but got {mode!r}")
    max_epochs = meta.get("max_epochs")

    # trial id -> folder: Tune's record first, then every folder with params.json (newer than the state)
    by_id: dict[str, Path | None] = {}
    for trial_id, info in state.items():
        d = exp / info["dir"] if info.get("dir") else None
        by_id[trial_id] = d if d is not None and d.is_dir() else None
    reports_of: dict[str, list[dict]] = {}
    for d in trial_dirs:
        reports = _latest_per_epoch(_read_json_lines(d / "result.json"))
        trial_id = next((r["trial_id"] for r in reports if r.get("trial_id")), None) or _id_from_dir(d, state)
        if trial_id is None:
            continue
        by_id.setdefault(trial_id, d)
        if by_id[trial_id] is None:
            by_id[trial_id] = d
        reports_of[trial_id] = reports

    notes: list[str] = []
    trial_rows, history_rows = [], []
    order = 0
    first_times = []
    for trial_id in sorted(by_id):
        d = by_id[trial_id]
        info = state.get(trial_id, {})
        reports = reports_of.get(trial_id)
        if reports is None:
            reports = _latest_per_epoch(_read_json_lines(d / "result.json")) if d else []
        if not reports and _finite((info.get("last_result") or {}).get("training_iteration")):
            reports = [info["last_result"]]  # result.json lost (driver killed): Tune's last record
            notes.append(f"trial {trial_id}: result.json empty, using Tune's saved last result")
        for r in reports:
            if _finite(r.get("timestamp")):
                first_times.append(float(r["timestamp"]) - float(r.get("time_this_iter_s") or 0))
                break
        status = _status(info.get("status"), reports, d)
        error = _error_message(d) if status == "ERROR" or (d and (d / "error.txt").is_file()) else None
        if status == "ERROR" and error is None and info.get("error_file"):
            error = f"(see {info['error_file']})"
        config = (reports[-1].get("config") if reports else None) or info.get("config") or _params(d)
        # the config the trial was started with (PBT may change it later; see best_config)
        start_config = info.get("config") or _params(d) or config
        values = [(r.get(metric), r) for r in reports]
        finite = [(v, r) for v, r in values if _finite(v)]
        best_value, best_report = (None, None)
        if finite:
            pick = max if mode == "max" else min
            best_value = pick(v for v, _ in finite)
            best_report = next(r for v, r in finite if v == best_value)  # the earliest report reaching it
        last = reports[-1] if reports else {}
        last_epoch = _epoch_of(last) if reports else None
        diverged = any(r.get("train_status") == "diverged" for r in reports)
        checkpoint = None
        ckpts = _checkpoints(d)
        if best_report is not None and best_report.get("checkpoint_dir_name"):
            m = _CKPT.match(str(best_report["checkpoint_dir_name"]))
            if m and int(m.group(1)) in ckpts:
                checkpoint = str(ckpts[int(m.group(1))])
        row = {
            "experiment": exp.name,
            "trial_id": trial_id,
            "status": status,
            "epochs": len(reports),
            "last_epoch": last_epoch,
            f"best_{metric}": best_value,
            "best_epoch": _epoch_of(best_report) if best_report else None,
            f"last_{metric}": last.get(metric),
        }
        for m_name in LAST_METRICS:
            if m_name != metric:
                row[f"last_{m_name}"] = last.get(m_name)
        row.update({
            "stopped_early": bool(status == "TERMINATED" and not diverged and max_epochs is not None
                                  and last_epoch is not None and last_epoch < max_epochs),
            "diverged": diverged,
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
        row.update(_flatten(start_config))
        trial_rows.append(row)
        if not reports and d is not None and status != "ERROR" and _checkpoints(d):
            notes.append(f"trial {trial_id}: checkpoints but no reports in result.json (the driver was killed "
                         "before it wrote them)")
        # When a report happened, to the sub-second: the trial's start + its time, unless the trial was ever
        # restored (PBT, resume: its time then counts from elsewhere); else Ray's whole-second timestamp.
        t0 = info.get("start_time")
        never_restored = all(r.get("iterations_since_restore") == r.get("training_iteration") for r in reports)
        for r in reports:
            when = r.get("timestamp")
            if _finite(t0) and never_restored and _finite(r.get("time_total_s")):
                precise = float(t0) + float(r["time_total_s"])
                if not _finite(when) or abs(precise - float(when)) < 2.0:
                    when = precise
            h = {"experiment": exp.name, "trial_id": trial_id,
                 "training_iteration": r.get("training_iteration"), "epoch": _epoch_of(r), "_when": when}
            for k, v in r.items():
                if k not in _NOT_METRICS and k not in h and not isinstance(v, (dict, list)):
                    h[k] = v
            h["_order"] = order
            order += 1
            history_rows.append(h)

    if start is None:
        start = min(first_times) if first_times else None
    trials = pd.DataFrame(trial_rows)
    if trials.empty:
        trials = pd.DataFrame(columns=["experiment", "trial_id", "status", "epochs", "last_epoch",
                                       f"best_{metric}", "best_epoch", f"last_{metric}", "stopped_early",
                                       "diverged", "wall_s", "num_failures", "error", "checkpoint",
                                       "last_checkpoint", "trial_dir"])
    for col in trials.columns:
        if col in ("epochs", "num_failures"):
            trials[col] = trials[col].astype("int64")
        elif col in ("last_epoch", "best_epoch"):
            trials[col] = pd.to_numeric(trials[col], errors="coerce").astype("Int64")
        elif col.startswith(("best_", "last_")) and col != "last_checkpoint" or col == "wall_s":
            trials[col] = pd.to_numeric(trials[col], errors="coerce").astype("float64")
    for pos, key in enumerate(("strategy", "seed"), start=1):
        if key in meta and key not in trials:
            trials.insert(pos, key, meta[key])
    history = pd.DataFrame(history_rows)
    if not history.empty:
        when = pd.to_numeric(history.pop("_when"), errors="coerce")
        history["elapsed_s"] = (when - start) if start is not None else float("nan")
        history = history.sort_values(["elapsed_s", "_order"], kind="mergesort", na_position="last")
        history["_order"] = range(len(history))
        history = history.reset_index(drop=True)
    else:
        history = pd.DataFrame(columns=["experiment", "trial_id", "training_iteration", "epoch", metric,
                                        "timestamp", "elapsed_s", "_order"])
    return Experiment(path=exp, meta=meta, metric=metric, mode=mode, trials=trials, history=history,
                      start_time=start, notes=notes)


def _latest_per_epoch(reports: list[dict]) -> list[dict]:
    """One report per epoch, the last one written: a trial resumed from a checkpoint older than its last
    report (Ctrl-C between a report and its checkpoint) reports those epochs again."""
    by_epoch: dict = {}
    for i, report in enumerate(reports):
        epoch = _epoch_of(report)
        by_epoch.pop(epoch if epoch is not None else ("no epoch", i), None)
        by_epoch[epoch if epoch is not None else ("no epoch", i)] = report
    return list(by_epoch.values())


def _epoch_of(report: dict | None) -> int | None:
    if not report:
        return None
    for key in ("epoch", "training_iteration"):
        if _finite(report.get(key)):
            return int(report[key])
    return None


def _params(trial_dir: Path | None) -> dict:
    if trial_dir is None:
        return {}
    try:
        return json.loads((trial_dir / "params.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _id_from_dir(d: Path, state: dict[str, dict]) -> str | None:
    """A trial folder with no reports: its id from Tune's record, else from the folder name as Ray makes it
    (``trial_<id>`` for our sweeps, ``<trainable>_<id>_<n>_...`` for plain Tune)."""
    for trial_id, info in state.items():
        if info.get("dir") == d.name:
            return trial_id
    m = re.match(r"^trial_(\w+?_\d{5})$", d.name) or re.match(r"^\w+?_([0-9a-f]{5}_\d{5})_", d.name)
    return m.group(1) if m else d.name


def _status(recorded: str | None, reports: list[dict], trial_dir: Path | None) -> str:
    """Tune's recorded status, corrected by the files where they are newer (Tune saves its state every few
    seconds; a killed driver leaves trials that finished since then marked RUNNING)."""
    has_error = bool(trial_dir and (trial_dir / "error.txt").is_file())
    done = bool(reports) and bool(reports[-1].get("done"))
    if recorded == "ERROR" or (has_error and not done):
        return "ERROR"
    if recorded == "TERMINATED" or done:
        return "TERMINATED"
    if recorded in ("RUNNING", "PAUSED") or reports or _checkpoints(trial_dir):
        return "RUNNING"  # the experiment stopped while this trial was training: `hwk4tune resume` goes on
    return "PENDING"


def load_experiments(sources: Iterable[str | Path | Any], **kwargs) -> list[Experiment]:
    return [load_experiment(s, **kwargs) for s in sources]


# ------------------------------------------------------------------------------------------ best


def best_yaml(exp: Experiment) -> dict:
    """What ``hwk4tune best`` writes: a file ``hwk4tune train`` takes as it is.

    ``trainable``, ``dataset``, ``config`` (the best trial's hyperparameters at its best epoch), ``metric``,
    ``mode``, ``epochs`` (= the best epoch), ``best: {value, epoch, trial_id, checkpoint}`` (checkpoint:
    the best epoch's, where Tune kept it, else null), ``experiment`` (the folder).
    """
    missing = [k for k in ("trainable", "dataset") if not exp.meta.get(k)]
    if missing:
        raise ResultsError(f"{exp.path}: {METADATA_FILE} lacks {', '.join(missing)} (not an experiment of "
                           "`hwk4tune run`?): cannot write a file that `hwk4tune train` takes")
    chosen = _best_row(exp)
    row = chosen["row"]
    dataset = {k: v for k, v in dict(exp.meta["dataset"]).items() if v is not None}
    epoch = int(row["best_epoch"]) if _finite(row["best_epoch"]) else None
    return {
        "trainable": exp.meta["trainable"],
        "dataset": dataset,
        "config": chosen["config"],
        "metric": exp.metric,
        "mode": exp.mode,
        "epochs": epoch,
        "best": {
            "value": _plain(row[exp.best_column]),
            "epoch": epoch,
            "trial_id": str(row["trial_id"]),
            "checkpoint": row["checkpoint"] if isinstance(row["checkpoint"], str) else None,
        },
        "experiment": str(exp.path),
        "strategy": exp.meta.get("strategy"),
    }


def write_best(exp: Experiment, path: str | Path) -> Path:
    import yaml

    data = best_yaml(exp)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Best trial of {exp.path} by {exp.metric} ({exp.mode}); ties: fewer epochs, then trial id.\n"
              f"# Train it for real:  hwk4tune train {out}\n")
    out.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return out


# ------------------------------------------------------------------------------------------ tables


def sort_trials(trials: pd.DataFrame, by: str | None, mode: str, metric: str) -> pd.DataFrame:
    """Sort by a column (``best_<metric>`` by default). ``by`` may name a metric (``val_loss`` ->
    ``best_val_loss`` or ``last_val_loss``) and end in ``:asc``/``:desc``; otherwise the direction is the
    metric's mode for the metric, ascending for losses and times, descending for the rest."""
    if trials.empty:
        return trials
    direction = None
    if by and ":" in by:
        by, direction = by.rsplit(":", 1)
        if direction not in ("asc", "desc"):
            raise ResultsError(f"--sort {by}:{direction}: the direction must be asc or desc")
    col = by or f"best_{metric}"
    if col not in trials:
        for candidate in (f"best_{col}", f"last_{col}", f"config/{col}"):
            if candidate in trials:
                col = candidate
                break
        else:
            raise ResultsError(f"cannot sort by {by!r}: no such column (columns: {', '.join(trials.columns)})")
    if direction is None:
        if col.endswith(metric):
            direction = "asc" if mode == "min" else "desc"
        elif "loss" in col or col.endswith(("_s", "epoch", "epochs", "trial_id")):
            direction = "asc"
        else:
            direction = "desc"
    return trials.sort_values([col, "trial_id"], ascending=[direction == "asc", True], kind="mergesort",
                              na_position="last")


def display_columns(trials: pd.DataFrame, metric: str) -> list[str]:
    """The columns worth showing to a person (md, html): the rest stay in csv / parquet / json."""
    cols = ["experiment"] if trials.get("experiment", pd.Series(dtype=object)).nunique() > 1 else []
    cols += [c for c in ("strategy", "seed") if c in trials and trials[c].nunique() > 1]
    cols += ["trial_id", "status", "epochs", f"best_{metric}", "best_epoch", f"last_{metric}", "wall_s"]
    cols += [c for c in trials.columns if isinstance(c, str) and c.startswith("config/")]
    if "error" in trials and trials["error"].notna().any():
        cols.append("error")
    return [c for c in cols if c in trials]


def _fmt(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, short_config: bool = True) -> str:
    """A GitHub markdown table (no dependency on ``tabulate``); floats to 4 significant digits."""
    headers = [c.removeprefix("config/") if short_config else c for c in map(str, df.columns)]
    rows = [[_fmt(v) for v in rec] for rec in df.itertuples(index=False, name=None)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2)) for w, n in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def to_html(df: pd.DataFrame) -> str:
    shown = df.rename(columns=lambda c: str(c).removeprefix("config/"))
    return shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0,
                         classes="hwk4tune-table", escape=True)


def format_table(df: pd.DataFrame, fmt: str) -> str | bytes:
    """``md`` / ``html`` / ``csv`` / ``json`` as text, ``parquet`` as bytes."""
    if fmt == "md":
        return to_markdown(df) + "\n"
    if fmt == "html":
        return to_html(df)
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        return df.to_json(orient="records", indent=2, default_handler=str) + "\n"
    if fmt == "parquet":
        import io

        buf = io.BytesIO()
        _parquet_safe(df).to_parquet(buf, index=False)
        return buf.getvalue()
    raise ResultsError(f"unknown format {fmt!r} (valid: {', '.join(TABLE_FORMATS)})")


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that mix types (a config value that is 32 in one trial and "auto" in another) as text."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1:
                out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return out


def write_table(df: pd.DataFrame, fmt: str, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = format_table(df, fmt)
    if isinstance(data, bytes):
        out.write_bytes(data)
    else:
        out.write_text(data)
    return out
