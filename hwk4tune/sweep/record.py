"""``hwk4tune record``: train N configurations of a space to ``max_epochs`` and keep every epoch in a table.

It is a normal sweep (random searcher seeded with ``seed``, FIFO, so nothing stops early; a grid space gets
every point of its grid) in ``TABLE.sweep/`` next to the table, so it shows the sweep's progress and an
interrupted recording continues with ``--resume`` like any sweep. Only finished trials enter the table: Ctrl-C
writes the configurations finished so far. Every trial starts from ``seed`` (as a
comparison's runs do), so a replay on the same seed matches a live run. The table
(:mod:`hwk4tune.replay.table`) has one row per configuration x epoch: the configuration, every reported
metric and the epoch's seconds, plus metadata (space, data set, device, threads, versions, the command).
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path

import pandas as pd

from hwk4tune.errors import InputError
from hwk4tune.replay import write_table
from hwk4tune.replay.table import CONFIG
from hwk4tune.results import load_experiment
from hwk4tune.space import Space, flatten
from hwk4tune.spec import SpaceSpec, SweepSpec
from hwk4tune.spec.searchers import RandomSearcher
from hwk4tune.store.records import is_experiment_dir, now
from hwk4tune.sweep.saved import space_record

_DROP = ("training_iteration", "time_total_s", "timestamp", "elapsed_s", "_order", "experiment", "trial_id",
         "replayed_from", "replay_distance")


def sweep_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".sweep")


def record_sweep(space: SpaceSpec, configs: int, seed: int, max_concurrent: int | None = None,
                 cpu: float = 1) -> SweepSpec:
    """The sweep that records: random (seeded) + FIFO, ``configs`` samples (1 pass over a grid space)."""
    tree = space.space.tree
    params = space.space if "seed" in tree else Space({**tree, "seed": seed})
    grid = any(getattr(p, "grid", False) for p in space.params.values())
    return SweepSpec(space=space.model_copy(update={"space": params}),
                     searcher=RandomSearcher(name="random", seed=seed), num_samples=1 if grid else configs,
                     max_concurrent_trials=max_concurrent, resources_per_trial={"cpu": cpu}, name="record",
                     label="record", source=space.source)


def record(space: SpaceSpec, configs: int, seed: int, out: str | Path, *, resume: bool = False,
           max_concurrent: int | None = None, cpu: float = 1, address: str | None = None, verbose: bool = True,
           command: str | None = None) -> Path:
    """Record ``configs`` configurations of ``space`` into the parquet table ``out``; returns its path."""
    from hwk4tune.sweep import resume_sweep, run_sweep

    out = Path(out).expanduser().resolve()
    exp = sweep_dir(out)
    spec = record_sweep(space, configs, seed, max_concurrent, cpu)
    t0 = time.perf_counter()
    if is_experiment_dir(exp):
        if not resume:
            raise InputError(f"{exp} holds an earlier recording: pass --resume to finish it, or remove it")
        resume_sweep(exp, address=address, verbose=verbose)
    else:
        run_sweep(spec, storage=str(exp.parent), name=exp.name, address=address, verbose=verbose)
    wall = time.perf_counter() - t0
    frame, metrics = table_frame(exp)
    meta = {
        "space": space_record(spec.space),
        "dataset": spec.space.dataset.model_dump(mode="json", exclude_none=True) if spec.space.dataset else None,
        "metric": space.metric, "mode": space.mode, "metrics": metrics,
        "configs": int(frame["config_id"].nunique()), "epochs": int(frame["epoch"].max()),
        "seed": seed, "device": _first(frame, "device"), "threads": _first(frame, "threads") or int(cpu),
        "cpu_per_trial": cpu, "max_concurrent_trials": max_concurrent, "machine": _machine(),
        "versions": _versions(), "command": command or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "wall_s": round(wall, 1), "created": now(),
    }
    frame = frame.drop(columns=[c for c in ("device", "threads") if c in frame])
    write_table(frame, meta, out)
    return out


def table_frame(exp_dir: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per trial x epoch: ``config_id``, ``trial_id``, ``epoch``, ``config/*``, the metrics."""
    e = load_experiment(exp_dir)
    done = e.trials[e.trials["status"] == "TERMINATED"]["trial_id"] if len(e.trials) else []
    h = e.history[e.history["trial_id"].isin(set(done))].copy()  # whole curves only (interrupted: so far)
    if h.empty:
        raise InputError(f"{exp_dir}: no trial reported anything; nothing to record")
    order = list(dict.fromkeys(sorted(h["trial_id"])))
    ids = {t: i for i, t in enumerate(order)}
    configs = pd.DataFrame([{CONFIG + k: v for k, v in flatten(e.configs.get(t, {})).items()} for t in order])
    configs.insert(0, "trial_id", order)
    h = h.drop(columns=[c for c in _DROP if c in h and c != "trial_id"])
    h = h.drop(columns=[c for c in h.columns if c.startswith("config")])
    h = h.merge(configs, on="trial_id", how="left")
    h.insert(0, "config_id", h["trial_id"].map(ids))
    h = h.sort_values(["config_id", "epoch"], kind="mergesort").reset_index(drop=True)
    lead = ["config_id", "trial_id", "epoch"]
    config_cols = [c for c in h.columns if c.startswith(CONFIG)]
    rest = [c for c in h.columns if c not in lead and c not in config_cols]
    h = h[lead + config_cols + rest]
    metrics = [c for c in rest if c not in ("device", "threads") and pd.api.types.is_numeric_dtype(h[c])]
    return h, metrics


def _first(frame: pd.DataFrame, col: str):
    if col not in frame or frame[col].dropna().empty:
        return None
    v = frame[col].dropna().iloc[0]
    return v.item() if hasattr(v, "item") else v


def _machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("hwk4tune", "ray", "torch", "optuna", "hyperopt", "nevergrad", "numpy", "pandas", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
