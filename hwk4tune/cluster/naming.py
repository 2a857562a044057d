"""The names a sweep carries on a cluster: its trial actors' (``hwk4tune.<sweep>``, shown in the
dashboard's Actors and Logs views, so several sweeps on one cluster are told apart) and its driver job's."""

from __future__ import annotations

from typing import Callable


def trainable_name(sweep_name: str) -> str:
    """``hwk4tune.<sweep>``: the trial actors' name in the dashboard's Actors view and in log prefixes."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sweep_name)
    return f"hwk4tune.{safe}"


def job_name(sweep_name: str) -> str:
    """``hwk4tune <sweep>``: the Name column of the dashboard's Jobs view (metadata key ``job_name``)."""
    return f"hwk4tune {sweep_name}"


def job_config(sweep_name: str | None):
    """A ``ray.job_config.JobConfig`` naming the driver's job after the sweep (None without a name)."""
    if not sweep_name:
        return None
    from ray.job_config import JobConfig

    return JobConfig(metadata={"job_name": job_name(sweep_name), "hwk4tune_sweep": sweep_name})


def name_trainable(fn: Callable, sweep_name: str) -> Callable:
    """Give a function trainable (from ``tune.with_parameters``) the name :func:`trainable_name`. Tune
    shows it as the actors' repr and uses it in ``(NAME pid=…)`` log prefixes; resuming needs the same name."""
    fn.__name__ = fn.__qualname__ = trainable_name(sweep_name)
    return fn


