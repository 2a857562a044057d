"""What Ray Tune leaves in an experiment folder, read without Ray and without trusting stored paths.

- ``experiment_state-*.json``: Tune's view of each trial (status, folder, start time, failures, last
  result) and the experiment's start time;
- ``pbt_global.txt`` and ``pbt_policy_<trial id>.txt``: PBT's and PB2's record of their exploits;
- per trial folder: ``result.json`` (one JSON line per report; a torn last line is skipped),
  ``params.json`` (the start config), ``error.txt``, ``checkpoint_NNNNNN/``.

A killed driver leaves these files out of step; the functions here say what is known, the caller decides.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from pathlib import Path
from typing import Any

STATE_GLOB = "experiment_state-*.json"  # Tune's own record of an experiment: every trial's status and folder

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")


def finite(value: Any) -> bool:
    """A finite real number (numpy scalars included), not a bool. numpy's ``bool_`` is no ``numbers.Real``, so
    this needs no numpy import (and :mod:`hwk4tune.store.records` may import this module cheaply)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def read_json_lines(path: Path, kind: type = dict) -> list:
    """The JSON lines of ``path`` that are a ``kind`` (``result.json``'s reports: dicts; PBT's records: lists);
    a torn last line (a killed driver) and a missing or unreadable file are skipped."""
    rows: list = []
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
        if isinstance(value, kind):
            rows.append(value)
    return rows


def exploits(exp: Path) -> dict[str, int] | None:
    """trial id -> how often PBT (or PB2) restarted it from another trial's checkpoint; None without PBT's record.

    Every exploit is one line of ``pbt_global.txt`` naming the trial by its first tag; ``pbt_policy_<id>.txt``
    ends with the trial's own latest exploit, which ties that tag to the trial id. (Counting changes of the
    config between reports misses an exploit whose explored config came out the same.)
    """
    lines = [line for line in read_json_lines(exp / "pbt_global.txt", list) if line]
    if not lines:
        return None
    per_tag: dict[str, int] = {}
    for line in lines:
        per_tag[str(line[0])] = per_tag.get(str(line[0]), 0) + 1
    out = {}
    for policy in exp.glob("pbt_policy_*.txt"):
        own = read_json_lines(policy, list)
        if own and own[-1]:
            out[policy.stem.removeprefix("pbt_policy_")] = per_tag.get(str(own[-1][0]), 0)
    return out


def experiment_state(exp: Path) -> tuple[dict[str, dict], float | None]:
    """Tune's view of each trial (by trial id) from the newest ``experiment_state-*.json``, and the
    experiment's start time. Empty when Tune never saved its state (a driver killed very early)."""
    files = sorted(exp.glob(STATE_GLOB))
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
    state, _ = experiment_state(exp)
    known = {info["dir"] for info in state.values() if info.get("dir")}
    if not state:
        return []
    return [p for p in sorted(exp.iterdir()) if is_trial_dir(p) and p.name not in known]


def error_message(trial_dir: Path | None) -> str | None:
    """The exception's last line (``ConfigError: invalid hyperparameters: lr = -1.0: ...``)."""
    if trial_dir is None:
        return None
    f = trial_dir / "error.txt"
    if not f.is_file():
        return None
    lines = [_ANSI.sub("", line).strip() for line in f.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith(("^", "Failure #"))]
    return lines[-1] if lines else "(empty error.txt)"


def checkpoints(trial_dir: Path | None) -> dict[int, Path]:
    """The trial's kept checkpoints by number."""
    if trial_dir is None or not trial_dir.is_dir():
        return {}
    found = {}
    for p in trial_dir.iterdir():
        m = CHECKPOINT_DIR.match(p.name)
        if m and p.is_dir():
            found[int(m.group(1))] = p
    return found


def is_trial_dir(p: Path) -> bool:
    """A trial's folder: what Tune writes into one (a killed driver may leave only checkpoints)."""
    if not p.is_dir() or p.name.startswith("."):
        return False
    if any((p / f).is_file() for f in ("params.json", "result.json", "error.txt")):
        return True
    return bool(checkpoints(p))


def params(trial_dir: Path | None) -> dict:
    """The config a trial was started with (``params.json``)."""
    if trial_dir is None:
        return {}
    try:
        return json.loads((trial_dir / "params.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def latest_per_epoch(reports: list[dict]) -> list[dict]:
    """One report per epoch, the last one written: a trial resumed from a checkpoint older than its last
    report (Ctrl-C between a report and its checkpoint) reports those epochs again."""
    by_epoch: dict = {}
    for i, report in enumerate(reports):
        epoch = epoch_of(report)
        by_epoch.pop(epoch if epoch is not None else ("no epoch", i), None)
        by_epoch[epoch if epoch is not None else ("no epoch", i)] = report
    return list(by_epoch.values())


def epoch_of(report: dict | None) -> int | None:
    if not report:
        return None
    for key in ("epoch", "training_iteration"):
        if finite(report.get(key)):
            return int(report[key])
    return None


def id_from_dir(d: Path, state: dict[str, dict]) -> str | None:
    """A trial folder with no reports: its id from Tune's record, else from the folder name as Ray makes it
    (``trial_<id>`` for our sweeps, ``<trainable>_<id>_<n>_...`` for plain Tune)."""
    for trial_id, info in state.items():
        if info.get("dir") == d.name:
            return trial_id
    m = re.match(r"^trial_(\w+?_\d{5})$", d.name) or re.match(r"^\w+?_([0-9a-f]{5}_\d{5})_", d.name)
    return m.group(1) if m else d.name


def status(recorded: str | None, reports: list[dict], trial_dir: Path | None) -> str:
    """Tune's recorded status, corrected by the files where they are newer (Tune saves its state every few
    seconds; a killed driver leaves trials that finished since then marked RUNNING)."""
    has_error = bool(trial_dir and (trial_dir / "error.txt").is_file())
    done = bool(reports) and bool(reports[-1].get("done"))
    if recorded == "ERROR" or (has_error and not done):
        return "ERROR"
    if recorded == "TERMINATED" or done:
        return "TERMINATED"
    if recorded in ("RUNNING", "PAUSED") or reports or checkpoints(trial_dir):
        return "RUNNING"  # the experiment stopped while this trial was training: `hwk4tune resume` goes on
    return "PENDING"
