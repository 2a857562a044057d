"""``hwk4tune record``: train N configurations of a space to ``max_epochs`` and keep every epoch in a table.

It is a normal sweep (random searcher seeded with ``seed``, FIFO, so nothing stops early; a grid space gets
every point of its grid) in ``TABLE.sweep/`` next to the table, so it shows the sweep's progress and an
interrupted recording continues with ``--resume`` like any sweep. Only finished trials enter the table: Ctrl-C
writes the configurations finished so far. Every trial starts from ``seed`` (as a
comparison's runs do), so a replay on the same seed matches a live run. The table
(:mod:`hwk4tune.replay.table`) has one row per configuration x epoch: the configuration, every reported
metric and the epoch's seconds, plus metadata (space, data set, device, threads, versions, the command).

The table may be a storage URI (``s3://bucket/prefix/TABLE.parquet``): the sweep goes to
``s3://bucket/prefix/TABLE.sweep/`` (Tune writes it there), is read back through a fresh local mirror, and the
table is written in the mirror of ``s3://bucket/prefix`` and copied to the URI (:mod:`hwk4tune.store.remote`).
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
from hwk4tune.store.remote import Workspace
from hwk4tune.sweep.saved import space_record

_DROP = ("training_iteration", "time_total_s", "timestamp", "elapsed_s", "_order", "experiment", "trial_id",
         "replayed_from", "replay_distance")


def sweep_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".sweep")


def _places(out: str | Path) -> tuple[Workspace, str, Workspace]:
    """``(the table's folder, the table's file name, the sweep's folder TABLE.sweep)``, local or at a URI."""
    place, name = Workspace.of_file(out)
    return place, name, Workspace.of(place.location(sweep_dir(name).name))


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
           command: str | None = None) -> Path | str:
    """Record ``configs`` configurations of ``space`` into the parquet table ``out`` (a path or a storage URI);
    returns where it is (the path, or the URI)."""
    from hwk4tune.sweep import resume_sweep, run_sweep

    place, name, sweep = _places(out)
    spec = record_sweep(space, configs, seed, max_concurrent, cpu)
    t0 = time.perf_counter()
    if is_experiment_dir(sweep.pull_all()):  # a URI: what it holds now, in a fresh mirror
        if not resume:
            raise InputError(f"{sweep.target} holds an earlier recording: pass --resume to finish it, or remove it")
        resume_sweep(sweep.target, address=address, verbose=verbose)
    else:
        place.create()  # storage that cannot be written is refused before the sweep
        run_sweep(spec, storage=place.target, name=sweep_dir(name).name, address=address, verbose=verbose)
    wall = time.perf_counter() - t0
    frame, metrics = table_frame(sweep.pull_all())
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
    write_table(frame, meta, place.local / name)
    (written,) = place.push(name)
    return Path(written) if not place.remote else written


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
