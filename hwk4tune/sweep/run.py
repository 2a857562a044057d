"""Run one sweep: a validated :class:`~hwk4tune.spec.SweepSpec` -> one Ray Tune experiment in
``STORAGE/NAME/`` (Ray's layout, one folder per trial, plus :mod:`hwk4tune.sweep.saved`'s two files).

Every Tune call of the project's sweeps is in this package and :mod:`hwk4tune.tune.strategies`.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

from hwk4tune.errors import InputError
from hwk4tune.spec import SweepSpec
from hwk4tune.store.records import default_name, default_storage, is_experiment_dir, is_uri, join
from hwk4tune.store.records import storage_location as _location
from hwk4tune.sweep.final_summary import planned_trials, summary
from hwk4tune.sweep.lock import experiment_lock
from hwk4tune.sweep.saved import write_saved
from hwk4tune.tune.console import quiet_early_stops, say
from hwk4tune.tune.ray_setup import check_resources, ensure_ray, shutdown
from hwk4tune.tune.strategies import StrategyArgs, build_strategy, param_space

PROGRESS_METRICS = ("val_accuracy", "val_loss", "train_loss", "epoch", "epoch_seconds")


class ExperimentExists(InputError):
    """The experiment folder of a new sweep already holds one: running into it would mix two sweeps."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the sweep after Tune saved its state (the summary and resume command were printed):
    the CLI exits 130, as for any interrupt."""


def check_sweep(spec: SweepSpec) -> list[str]:
    """The notices of a (valid) sweep: legal but wasteful choices, one line each. Starts no Ray."""
    from hwk4tune.spec.notices import notices_of

    return notices_of(spec)


def run_sweep(spec: SweepSpec, *, storage: str | None = None, name: str | None = None, address: str | None = None,
              dashboard: bool = False, dashboard_host: str = "127.0.0.1", verbose: bool = True,
              storage_shared: bool = False, trainable_fn=None, live=None) -> Path:
    """Run one sweep to the end; return its experiment folder ``STORAGE/NAME`` (for a URI storage the
    returned value is ``Path(uri)``, use ``str()``).

    Ctrl-C stops the sweep, Tune saves its state, and the resume command is printed. On a cluster of
    several nodes, storage must be shared (a URI, a network file system, or ``storage_shared``): see
    :func:`hwk4tune.cluster.check_storage`. ``trainable_fn`` runs instead of the space's trainable (a
    replay, :mod:`hwk4tune.replay`): the searcher, scheduler and everything else stay the same.
    ``live`` (:class:`hwk4tune.live.LiveOptions`): the Optuna journal mirror, optuna-dashboard, TensorBoard.
    """
    from ray import tune

    from hwk4tune.cluster import check_storage

    storage = _location(storage or spec.storage or default_storage())
    name = name or spec.name or default_name(spec.source)
    exp_dir = join(storage, name)
    if not is_uri(exp_dir) and is_experiment_dir(exp_dir):  # remote storage: Tune keeps experiments apart
        raise ExperimentExists(_exists_message(exp_dir))
    say(verbose, *(f"notice: {n}" for n in check_sweep(spec)))

    data = load_data(spec) if trainable_fn is None else None  # on the driver, once; into the object store
    try:
        with experiment_lock(exp_dir, lambda text: say(verbose, text)):  # one driver per folder, until it exits
            if not is_uri(exp_dir) and is_experiment_dir(exp_dir):  # another sweep got here while data loaded
                raise ExperimentExists(_exists_message(exp_dir))
            started = ensure_ray(address, dashboard, dashboard_host, job_name=name)
            try:
                check_storage(storage, shared=storage_shared, on_cluster=address is not None)
                check_resources(spec, address)
                args = StrategyArgs.from_sweep(spec, name)
                search_alg, scheduler = build_strategy(args)
                write_saved(exp_dir, spec, name)
                tuner = tune.Tuner(
                    trainable(spec, data, name, trainable_fn),
                    param_space=_param_space(spec),
                    tune_config=tune.TuneConfig(
                        metric=spec.space.metric,
                        mode=spec.space.mode,
                        search_alg=search_alg,
                        scheduler=scheduler,
                        num_samples=spec.num_samples,
                        reuse_actors=spec.reuse_actors,
                        trial_name_creator=functools.partial(_trial_name, name),
                        trial_dirname_creator=_trial_dirname,
                    ),
                    run_config=_run_config(spec, name, storage, verbose, _live_callbacks(spec, name, exp_dir, live)),
                )
                say(verbose, f"sweep {name}: {spec.strategy_label}, {spec.num_samples} trials of up to "
                             f"{spec.space.max_epochs} epochs -> {exp_dir}")
                text, interrupted = fit(tuner, exp_dir, spec)
            finally:
                shutdown(started)
    except KeyboardInterrupt as exc:  # a second Ctrl-C outside Tune's run (starting Ray, shutting it down)
        if isinstance(exc, SweepInterrupted):
            raise
        raise _say_how_to_resume(exp_dir) from None
    say(verbose, text)
    if interrupted:
        raise SweepInterrupted(exp_dir) if verbose else _say_how_to_resume(exp_dir)  # -q hides the summary
    return Path(exp_dir)


def _say_how_to_resume(exp_dir: str) -> SweepInterrupted:
    """Print the resume command where no summary shows it (a second Ctrl-C, or -q); exit 130 follows."""
    print(f"\ninterrupted; resume with:  hwk4tune resume {exp_dir}", file=sys.stderr)
    return SweepInterrupted(exp_dir)


def _exists_message(exp_dir: str) -> str:
    return (f"--name: {exp_dir} already holds an experiment; finish it with `hwk4tune resume {exp_dir}`, "
            "or give another --name")


def load_data(spec: SweepSpec):
    """The data set of a built-in trainable, as tensors; None for an own trainable (it loads its own)."""
    from hwk4tune.learn.data import load_dataset

    ds = spec.space.dataset
    if ds is None:
        return None
    return load_dataset(ds.name, subset=ds.subset, data_dir=ds.data_dir, val_fraction=ds.val_fraction, seed=ds.seed)


def trainable(spec: SweepSpec, data, name: str, fn=None):
    """The sweep's trainable with its resources; actors and log lines read ``hwk4tune.<sweep>`` in the
    dashboard, and resume needs the same name."""
    from ray import tune

    from hwk4tune.cluster import name_trainable
    from hwk4tune.learn.feature_cache import features_for_space
    from hwk4tune.tune.trainables import build_trainable

    if fn is None:
        # head-only ResNet trials without augmentation train on the backbone's features, computed once
        features = features_for_space(spec.space.trainable, spec.space.space, data,
                                      say=lambda t: print(t, flush=True))
        fn = build_trainable(spec.space.entry, data, spec.space.max_epochs, features=features)
    fn = name_trainable(fn, name)
    res = spec.resources_per_trial
    return tune.with_resources(fn, {"cpu": res.cpu, "gpu": res.gpu})


def _trial_name(prefix: str, trial) -> str:
    """``<sweep name>_<trial id>``: what the progress table and the dashboard show."""
    return f"{prefix}_{trial.trial_id}"


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def _param_space(spec: SweepSpec) -> dict:
    return param_space(spec.space, spec.searcher)  # empty where the searcher holds the space


def _checkpoint_config(spec: SweepSpec):
    """Which checkpoints a trial keeps.

    PBT and PB2 keep every checkpoint. A trial restarted from another's checkpoint numbers its next
    checkpoints from that one's, so it writes ``checkpoint_000001`` again over its own; Tune then holds two
    entries for one folder, and deleting the older (any ``num_to_keep``) deleted the newer one's files: a
    traceback per deletion ("Error handling checkpoint ... Path not found") and checkpoints gone that PBT
    had noted to clone. The cost is disk: every epoch's checkpoint of every trial.
    Otherwise keep the 2 best by the metric (best.yaml points at one) and, always, the latest (Ray keeps it
    whatever its score: resume starts from it).
    """
    from ray import tune

    if spec.scheduler.name in ("pbt", "pb2"):
        return tune.CheckpointConfig(num_to_keep=None)
    return tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute=spec.space.metric,
                                 checkpoint_score_order=spec.space.mode)


def _live_callbacks(spec: SweepSpec, name: str, exp_dir: str, live) -> list:
    """The live view's callbacks (hwk4tune.live): the Optuna journal mirror, TensorBoard on or off."""
    from hwk4tune.live import LiveOptions
    from hwk4tune.live.options import callbacks

    return callbacks(live or LiveOptions(), experiment_dir=exp_dir, study_name=name, space_spec=spec.space,
                     label=spec.strategy_label, fresh=True)


def _run_config(spec: SweepSpec, name: str, storage: str, verbose: bool, live_callbacks: list):
    from ray import tune

    from hwk4tune.tune.result_files import result_loggers
    from hwk4tune.tune.stoppers import build_stop

    # stop: {"epoch": max_epochs}, or with `stop:` rules a stopper that also ends trials there, and the
    # callback noting why each trial ended (stopping.json; its state resumes with the sweep)
    stop, callbacks = build_stop(spec, join(storage, name))
    return tune.RunConfig(
        name=name,
        storage_path=storage,
        # The trainable ends by itself after max_epochs; saying so to Tune makes the last result a STOP
        # rather than a scheduler's decision (Ray's synchronous HyperBand otherwise PAUSEs a trial at its
        # last epoch and can leave it PAUSED when the sweep ends).
        stop=stop,
        callbacks=callbacks + live_callbacks + result_loggers(),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        checkpoint_config=_checkpoint_config(spec),
        verbose=1 if verbose else 0,
        progress_reporter=_reporter(spec),
    )


def _reporter(spec: SweepSpec):
    """Tune's classic status table, every 15 s: trials sorted by the metric, with the parameters searched.
    A :class:`~hwk4tune.tune.progress.SweepReporter`: Ray's own CLIReporter raised on trials that ended
    without the metric and on a conditional space's inactive parameters, and that ended the sweep."""
    from hwk4tune.tune.progress import SweepReporter

    metrics = list(dict.fromkeys([spec.space.metric, *PROGRESS_METRICS]))
    return SweepReporter(
        metric_columns=metrics,
        parameter_columns=list(spec.space.params),
        max_report_frequency=15,
        sort_by_metric=True,  # metric and mode come from TuneConfig
        max_progress_rows=20,
        # Ray's default reads Tune's global verbosity when the reporter is made: a verbose=False sweep earlier
        # in the same process would leave every later one without its table
        print_intermediate_tables=True,
    )


def _interrupt_marker(signum, frame):
    raise KeyboardInterrupt


def fit(tuner, exp_dir: str, spec: SweepSpec, after=None) -> tuple[str, bool]:
    """Run the Tuner with worker noise filtered; return the end-of-sweep summary and whether Ctrl-C stopped it.

    Tune catches the first SIGINT itself (it stops the trials, saves its state and returns normally) and
    then puts back the handler it found: ours, a marker that raises KeyboardInterrupt. So the handler
    installed after ``fit`` tells whether the sweep was interrupted, and a second Ctrl-C stops at once.
    ``after`` runs once Tune is done, before the summary reads the folder."""
    # Tune's newer output engine ignores a CLIReporter and prints a box per trial start and end: too much
    # for sweeps of many short trials. RAY_AIR_NEW_OUTPUT=1 in the environment brings it back.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # forced snapshots when trials checkpoint every (short) epoch are expected here, not a problem
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    main_thread = _on_main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt_marker) if main_thread else None
    try:
        with quiet_early_stops() as quiet:  # -q hides the table and summary, never lets the noise through
            try:
                results = tuner.fit()
            except KeyboardInterrupt:  # a second Ctrl-C: Tune stopped at once; its last saved state resumes
                raise _say_how_to_resume(exp_dir) from None
        interrupted = main_thread and signal.getsignal(signal.SIGINT) is _interrupt_marker
        if after is not None:  # tidy the folder before the summary reads it
            after()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    text = summary(results, exp_dir, planned_trials(spec), hidden_tracebacks=quiet.hidden,
                   scheduler=spec.scheduler.name)
    from hwk4tune.store.stopping_file import describe_budget

    stopped = describe_budget(exp_dir) if not is_uri(exp_dir) else None
    return (f"{text}\n{stopped}" if stopped else text), interrupted


def _on_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
