"""Why each trial ended — the ``stop_reason`` column: ``finished`` (ran ``max_epochs``), ``scheduler`` (a
scheduler such as ASHA cut it), ``plateau`` / ``target`` / ``budget`` (the sweep's ``stop:`` rules, from
``stopping.json``), ``diverged`` (its loss became infinite), ``error``, ``not started`` (ended without a report); an unfinished trial reads as its
status (``running``, ``pending``, ``paused``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwk4tune.store.stopping_file import read_stopping

STOP_REASONS = ("finished", "scheduler", "plateau", "target", "budget", "diverged", "error")


def stop_reasons(exp: Path, trials: pd.DataFrame, max_epochs: int | None) -> list[str | None]:
    """One reason per row of ``trials`` (columns ``trial_id``, ``status``, ``last_epoch``, ``diverged``)."""
    noted = (read_stopping(exp) or {}).get("trials") or {}
    out: list[str | None] = []
    for row in trials.itertuples(index=False):
        status = str(getattr(row, "status", "") or "")
        reason = (noted.get(row.trial_id) or {}).get("reason")
        last = getattr(row, "last_epoch", None)
        if status == "ERROR":
            out.append("error")
        elif status != "TERMINATED":
            out.append(status.lower() or None)
        elif reason in STOP_REASONS:
            out.append(reason)
        elif bool(getattr(row, "diverged", False)):
            out.append("diverged")
        elif pd.isna(last):
            out.append("not started")
        elif max_epochs is None or int(last) >= max_epochs:
            out.append("finished")
        else:
            out.append("scheduler")
    return out
