"""Simulated seconds of a replayed run.

A run of the discrete-event replay (:mod:`hwk4tune.tune.simulated_replay`) reports its simulated clock with
every result (``simulated_s``): that is its time, pauses and restarts included. For a folder replayed by
the Ray-actor replay of earlier versions (no ``simulated_s``), the recorded seconds are laid out on ``slots``
parallel workers. That model: trials start in the order they started in the replay (their first report); each takes the first
free slot (``max_concurrent_trials``, 1 when unset) and holds it for the sum of its reported epochs'
recorded ``epoch_seconds``; a report happens at the slot's start plus the seconds of the trial's epochs so
far. Pauses (HyperBand) and PBT's restarts are not modelled: a trial's epochs run back to back. The same
replay thus always gets the same times, whatever the machine's load.
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

SIMULATED = "simulated_s"  # the simulated clock a report of the discrete-event replay carries


def simulate(history: pd.DataFrame, slots: int | None, seconds: str = "epoch_seconds") -> pd.Series:
    """Simulated seconds since the run started, one per row of ``history`` (index kept): its ``simulated_s``
    where every row has one, else laid out from ``trial_id``, ``elapsed_s`` (wall, for the start order),
    ``_order`` and ``seconds``."""
    if history.empty:
        return pd.Series([], dtype=float, index=history.index)
    if SIMULATED in history and history[SIMULATED].notna().all():
        return history[SIMULATED].astype(float)
    h = history.sort_values(["elapsed_s", "_order"], kind="mergesort")
    free = [0.0] * max(1, int(slots or 1))  # heap of the times the slots become free
    heapq.heapify(free)
    out = pd.Series(np.nan, index=history.index, dtype=float)
    for _trial, rows in h.groupby("trial_id", sort=False):  # in order of first appearance
        start = heapq.heappop(free)
        secs = rows[seconds].astype(float).fillna(0.0).to_numpy()
        times = start + np.cumsum(secs)
        out.loc[rows.index] = times
        heapq.heappush(free, float(times[-1]) if times.size else start)
    return out
