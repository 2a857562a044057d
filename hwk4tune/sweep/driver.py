"""One sweep through Ray, the same way for ``run`` and ``resume`` (and so for ``compare``'s runs and ``record``,
which go through them): the experiment folder's lock, Ray started (or joined) and stopped, the checks, the
Tuner's fit, and the end-of-sweep summary. What differs between a new sweep and a resumed one is only how its
Tuner is made (the ``start`` each passes to :func:`drive`); every Ray call is in :mod:`hwk4tune.tune`.

Ctrl-C: the first lets Tune stop the trials and save its state; the summary then shows the resume command
(under ``-q``, the command alone is printed) and :class:`SweepInterrupted` is raised (exit 130). A second
Ctrl-C stops at once and prints the resume command.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

from hwk4tune.cluster.hosts import LOCAL_HOST
from hwk4tune.spec import SweepSpec
from hwk4tune.sweep.final_summary import summary
from hwk4tune.sweep.lock import experiment_lock
from hwk4tune.tune.banks import close_banks
from hwk4tune.tune.console import say
from hwk4tune.tune.ray_setup import check_resources, ray_session
from hwk4tune.tune.tuner import FitOutcome, fit


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the sweep after Tune saved its state (the summary and resume command were printed):
    the CLI exits 130, as for any interrupt."""


@dataclass(frozen=True)
class SweepRun:
    """Where and how one sweep runs: ``exp_dir`` = ``storage/name`` (a folder or a URI); ``address``: the Ray
    cluster (None: an embedded Ray); ``storage_shared``: the user says every node sees ``storage``."""

    spec: SweepSpec
    exp_dir: str
    name: str
    storage: str
    address: str | None = None
    verbose: bool = True
    storage_shared: bool = False
    dashboard: bool = False
    dashboard_host: str = LOCAL_HOST


@dataclass(frozen=True)
class Started:
    """What a sweep's ``start`` made once Ray is up: its Tuner, the line said before the fit, what to tidy
    after it (before the summary reads the folder), and lines to add under the summary."""

    tuner: Any
    headline: str
    after: Callable[[], None] | None = None
    notes: list[str] = field(default_factory=list)


def drive(run: SweepRun, start: Callable[[], Started]) -> Path:
    """Run one sweep to its end and print its summary; return its experiment folder (``Path(uri)`` for a URI).

    The folder's lock is held from before Ray starts until the summary is read; Ray is stopped if started
    here. ``start`` makes the Tuner once Ray is up and the storage and resources were checked."""
    try:
        with experiment_lock(run.exp_dir, lambda text: say(run.verbose, text)):  # one driver per folder
            outcome, text = _through_ray(run, start)
    except KeyboardInterrupt as exc:  # a second Ctrl-C: in Tune's run, or outside it (starting Ray, stopping it)
        if isinstance(exc, SweepInterrupted):
            raise
        raise _say_how_to_resume(run.exp_dir) from None
    say(run.verbose, text)
    if outcome.interrupted:
        raise SweepInterrupted(run.exp_dir) if run.verbose else _say_how_to_resume(run.exp_dir)  # -q: no summary
    return Path(run.exp_dir)


def _through_ray(run: SweepRun, start: Callable[[], Started]) -> tuple[FitOutcome, str]:
    """Ray up, checks, ``start``, fit, Ray down; then the summary (read from the folder; none under ``-q``)."""
    from hwk4tune.cluster import check_storage

    with ray_session(run.address, run.dashboard, run.dashboard_host, job_name=run.name):
        check_storage(run.storage, shared=run.storage_shared, on_cluster=run.address is not None)
        check_resources(run.spec, run.address)
        started = start()
        say(run.verbose, started.headline)
        try:
            outcome = fit(started.tuner)
        finally:
            if run.spec.bank is not None:  # bank servers would keep their CPUs and GPU
                close_banks(run.name)
        if started.after is not None:  # tidy the folder before the summary reads it
            started.after()
    if not run.verbose:
        return outcome, ""
    return outcome, "\n".join([summary(run.exp_dir, run.spec, outcome.hidden_tracebacks), *started.notes])


def shared_ray(address: str | None, *, trial_output: bool = True) -> ContextManager[bool]:
    """One Ray for several sweeps (a comparison's runs, the demo's two comparisons): each sweep's :func:`drive`
    joins it and leaves it running; it stops after the block if started there. ``trial_output=False`` keeps
    the trials' own output in Ray's log files only."""
    return ray_session(address, log_to_driver=trial_output)


def _say_how_to_resume(exp_dir: str) -> SweepInterrupted:
    """Print the resume command where no summary shows it (a second Ctrl-C, or -q); exit 130 follows."""
    print(f"\ninterrupted; resume with:  hwk4tune resume {exp_dir}", file=sys.stderr)
    return SweepInterrupted(exp_dir)


def load_data(spec: SweepSpec):
    """The data set of a built-in trainable, as tensors, loaded on the driver once (it goes into Ray's object
    store); None for an own trainable (it loads its own)."""
    from hwk4tune.learn.data import load_dataset

    ds = spec.space.dataset
    if ds is None:
        return None
    return load_dataset(ds.name, subset=ds.subset, data_dir=ds.data_dir, val_fraction=ds.val_fraction, seed=ds.seed)
