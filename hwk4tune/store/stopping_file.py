"""``stopping.json``: what a sweep's ``stop:`` rules decided (why each trial ended, how the sweep ended, the
time spent), written by the driver's stopper (:mod:`hwk4tune.tune.stoppers`) and read without Ray."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

STOPPING_FILE = "stopping.json"


class StopState:
    """What the stopper decided, in a JSON-able dict; saved in ``stopping.json`` and Tune's checkpoint."""

    def __init__(self, exp_dir: str | None, *, max_epochs: int, plateau: dict | None, target: dict | None,
                 time_budget_s: float | None):
        self.exp_dir = exp_dir
        self.data: dict[str, Any] = {
            "max_epochs": max_epochs, "plateau": plateau, "target": target, "time_budget_s": time_budget_s,
            "spent_s": 0.0, "ended": None, "reached_by": None, "trials": {}, "completed": [], "plateau_state": {},
        }
        self._since: float | None = None  # monotonic clock at this driver's first step

    def __getstate__(self) -> dict:
        return {"exp_dir": self.exp_dir, "data": self.data, "_since": None}

    def spent(self) -> float:
        extra = time.monotonic() - self._since if self._since is not None else 0.0
        return self.data["spent_s"] + extra

    def tick(self) -> None:
        """Fold the time since the last tick into ``spent_s`` (the clock starts at the first tick)."""
        now = time.monotonic()
        if self._since is not None:
            self.data["spent_s"] += now - self._since
        self._since = now

    def note(self, trial_id: str, reason: str, epoch: Any = None) -> None:
        self.data["trials"].setdefault(trial_id, {"reason": reason, "epoch": epoch})

    def write(self) -> None:
        if not self.exp_dir or "://" in self.exp_dir:
            return  # remote storage: the reasons live in Tune's checkpoint only
        path = Path(self.exp_dir) / STOPPING_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        out = {k: v for k, v in self.data.items() if k != "plateau_state"}
        out["spent_s"] = round(self.spent(), 3)
        tmp.write_text(json.dumps(out, indent=2, default=str) + "\n")
        os.replace(tmp, path)


def read_stopping(exp_dir: str | Path) -> dict | None:
    """``stopping.json`` of an experiment folder (None when the sweep had no stop rules, or it is torn)."""
    path = Path(exp_dir) / STOPPING_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def describe_budget(exp_dir: str | Path) -> str | None:
    """One line on how the sweep ended by its stop rules, for the end-of-sweep summary."""
    d = read_stopping(exp_dir)
    if not d:
        return None
    parts = []
    if d.get("ended") == "target":
        t = d.get("target") or {}
        parts.append(f"target {t.get('metric')} {'>=' if t.get('mode') == 'max' else '<='} {t.get('value')} "
                     f"reached by trial {d.get('reached_by')}: sweep ended")
    elif d.get("ended") == "budget":
        parts.append(f"time budget of {d.get('time_budget_s'):g} s spent: sweep ended")
    if d.get("time_budget_s"):
        parts.append(f"{d.get('spent_s', 0):.0f} of {d['time_budget_s']:g} s used")
    plateaued = [t for t, v in (d.get("trials") or {}).items() if v.get("reason") == "plateau"]
    if plateaued:
        parts.append(f"{len(plateaued)} trial(s) ended on a plateau")
    return "; ".join(parts) or None
