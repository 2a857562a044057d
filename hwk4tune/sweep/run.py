"""Run one sweep: a validated :class:`~hwk4tune.spec.SweepSpec` -> one Ray Tune experiment in
``STORAGE/NAME/`` (Ray's layout, one folder per trial, plus :mod:`hwk4tune.sweep.saved`'s two files), through
:func:`hwk4tune.sweep.driver.drive`; the Tuner itself is made in :mod:`hwk4tune.tune.tuner`.
"""

from __future__ import annotations

from pathlib import Path

from hwk4tune.cluster.hosts import LOCAL_HOST
from hwk4tune.errors import InputError
from hwk4tune.spec import SweepSpec
from hwk4tune.store.records import default_name, default_storage, is_experiment_dir, is_uri, join
from hwk4tune.store.records import storage_location as _location
from hwk4tune.sweep.driver import Started, SweepInterrupted, SweepRun, drive, load_data
from hwk4tune.sweep.saved import write_saved
from hwk4tune.tune.console import say

__all__ = ["run_sweep", "check_sweep", "ExperimentExists", "SweepInterrupted"]


class ExperimentExists(InputError):
    """The experiment folder of a new sweep already holds one: running into it would mix two sweeps."""


def check_sweep(spec: SweepSpec) -> list[str]:
    """The notices of a (valid) sweep: legal but wasteful choices, one line each. Starts no Ray."""
    from hwk4tune.spec.notices import notices_of

    return notices_of(spec)


def run_sweep(spec: SweepSpec, *, storage: str | None = None, name: str | None = None, address: str | None = None,
              dashboard: bool = False, dashboard_host: str = LOCAL_HOST, verbose: bool = True,
              storage_shared: bool = False, trainable_fn=None, live=None) -> Path:
    """Run one sweep to the end; return its experiment folder ``STORAGE/NAME`` (for a URI storage the
    returned value is ``Path(uri)``, use ``str()``).

    Ctrl-C stops the sweep, Tune saves its state, and the resume command is printed. On a cluster of
    several nodes, storage must be shared (a URI, a network file system, or ``storage_shared``): see
    :func:`hwk4tune.cluster.check_storage`. ``trainable_fn`` runs instead of the space's trainable (a
    replay, :mod:`hwk4tune.replay`): the searcher, scheduler and everything else stay the same.
    ``live`` (:class:`hwk4tune.live.LiveOptions`): the Optuna journal mirror, optuna-dashboard, TensorBoard.
    """
    storage = _location(storage or spec.storage or default_storage())
    name = name or spec.name or default_name(spec.source)
    run = SweepRun(spec, join(storage, name), name, storage, address, verbose, storage_shared, dashboard,
                   dashboard_host)
    _refuse_existing(run.exp_dir)
    say(verbose, *(f"notice: {n}" for n in check_sweep(spec)))
    warm = warm_start_plan(spec, verbose)  # before Ray: another metric or mode is refused here
    data = load_data(spec) if trainable_fn is None else None  # on the driver, once; into the object store
    return drive(run, lambda: _start(run, data, trainable_fn, live, warm))


def warm_start_plan(spec: SweepSpec, verbose: bool = True):
    """The sweep's earlier trials mapped onto its space (:mod:`hwk4tune.results.warm_start`), its counts
    printed; None without ``warm_start:``. Raises SpecError (exit 2) for another metric or mode."""
    from hwk4tune.results.warm_start import plan_warm_start

    plan = plan_warm_start(spec)
    if plan is not None:
        say(verbose, *plan.lines())
    return plan


def _start(run: SweepRun, data, trainable_fn, live, warm=None) -> Started:
    """The new sweep's Tuner; its ``hwk4tune.json`` and ``sweep.yaml`` are written once its strategy is
    built (a strategy that fails leaves no experiment behind)."""
    from hwk4tune.live import LiveOptions
    from hwk4tune.tune.strategies import StrategyArgs, build_strategy
    from hwk4tune.tune.tuner import new_tuner

    spec, name, exp_dir = run.spec, run.name, run.exp_dir
    _refuse_existing(exp_dir)  # another sweep got here while the data loaded
    strategy = build_strategy(StrategyArgs.from_sweep(spec, name, warm))
    write_saved(exp_dir, spec, name)
    notes = []
    if warm is not None:  # warm_start.json: table and the summary tell earlier trials apart
        import json

        from hwk4tune.results.warm_start import WARM_START_FILE, warm_record
        from hwk4tune.store.records import write_text

        write_text(join(exp_dir, WARM_START_FILE), json.dumps(warm_record(warm, spec.warm_start.paths), indent=2))
        notes.append(f"warm start: {len(warm.trials)} earlier trials "
                     + ("ran again first" if warm.mode == "evaluate" else "seeded the searcher (not counted above)")
                     + (f"; {warm.skipped} planned configs already evaluated were skipped" if warm.skipped else ""))
    live = live or LiveOptions()
    listeners = live.listeners(experiment_dir=exp_dir, study_name=name, space_spec=spec.space,
                               label=spec.strategy_label)
    tuner = new_tuner(spec, name, run.storage, strategy, data=data, trainable_fn=trainable_fn,
                      verbose=run.verbose, listeners=listeners, tensorboard=live.tensorboard)
    return Started(tuner, f"sweep {name}: {spec.strategy_label}, {spec.num_samples} trials of up to "
                          f"{spec.space.max_epochs} epochs -> {exp_dir}", notes=notes)


def _refuse_existing(exp_dir: str) -> None:
    """A new sweep never runs into a folder that holds an experiment (remote storage: Tune keeps them apart)."""
    if not is_uri(exp_dir) and is_experiment_dir(exp_dir):
        raise ExperimentExists(f"--name: {exp_dir} already holds an experiment; finish it with "
                               f"`hwk4tune resume {exp_dir}`, or give another --name")
