"""The Ray Tune calls of a sweep: its Tuner, new (``run``) or restored from the experiment folder (``resume``),
and its fit. Every Tune call that ``run``, ``resume``, ``compare`` and ``record`` make is here or in
:mod:`hwk4tune.tune.strategies`; :mod:`hwk4tune.sweep.driver` holds the order they are made in.

A fit changes process-wide state only for its duration: the SIGINT and SIGUSR1 handlers and the environment
(two Tune variables set here, any Tune sets) are put back as they were when it returns or raises.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from hwk4tune.registry import SCORES
from hwk4tune.spec import Problem, SpecError, SweepSpec
from hwk4tune.tune.console import quiet_early_stops
from hwk4tune.tune.ray_setup import FIT_ENV, environ_defaults, through_ray_client

PROGRESS_METRICS = (*reversed(SCORES), "epoch", "epoch_seconds")  # val_accuracy, val_loss, train_loss


@dataclass(frozen=True)
class FitOutcome:
    """How a fit ended: ``interrupted`` by one Ctrl-C (Tune saved its state), and how many harmless
    ``SystemExit`` tracebacks of early-stopped trials were hidden."""

    interrupted: bool
    hidden_tracebacks: int


def new_tuner(spec: SweepSpec, name: str, storage: str, strategy: tuple, *, data, trainable_fn=None,
              verbose: bool = True, listeners: list | None = None, tensorboard: bool = False):
    """The Tuner of a new sweep into ``storage/name``: ``strategy``, the searcher and scheduler of
    :func:`~hwk4tune.tune.strategies.build_strategy`; ``listeners``: the live view's trial listeners
    (:class:`~hwk4tune.tune.callbacks.TrialListener`); ``tensorboard``: keep Ray's TensorBoard logger."""
    from ray import tune

    from hwk4tune.tune.strategies import param_space

    search_alg, scheduler = strategy
    return tune.Tuner(
        trainable(spec, data, name, trainable_fn),
        param_space=param_space(spec.space, spec.searcher),  # empty where the searcher holds the space
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
        run_config=_run_config(spec, name, storage, verbose, _callbacks(spec, name, storage, listeners or [],
                                                                          tensorboard)),
    )


def restored_tuner(exp_dir: str, spec: SweepSpec, name: str, *, data, restart_errored: bool = False):
    """The Tuner of an interrupted sweep, from the state Tune saved in ``exp_dir`` (its callbacks, stopping
    rules and table come back with it): unfinished trials go on, errored ones resume or start over."""
    from ray import tune

    return tune.Tuner.restore(
        exp_dir,
        trainable=trainable(spec, data, name),
        resume_unfinished=True,
        resume_errored=not restart_errored,
        restart_errored=restart_errored,
    )


def check_restorable(exp_dir: str) -> None:
    """Refuse a folder where Tune saved no state yet (:class:`SpecError`): nothing to resume."""
    from ray import tune

    if not tune.Tuner.can_restore(exp_dir):
        raise SpecError([Problem(exp_dir, None, "(folder)", "Tune saved no state here yet: nothing to resume")])


def trainable(spec: SweepSpec, data, name: str, fn=None):
    """The sweep's trainable with its resources; actors and log lines read ``hwk4tune.<sweep>`` in the
    dashboard, and resume needs the same name. ``fn`` runs instead of the space's trainable (a replay)."""
    from ray import tune

    from hwk4tune.cluster import name_trainable
    from hwk4tune.learn.feature_cache import features_for_space
    from hwk4tune.tune.trainables import build_trainable

    res = spec.resources_per_trial
    if fn is None and spec.bank is not None:  # trials are members; their bank servers hold the resources
        from hwk4tune.tune.banks import MEMBER_CPU, bank_member, open_registry

        registry = open_registry(name, data, spec.space.trainable, spec.space.max_epochs, spec.bank.size,
                                 {"cpu": res.cpu, "gpu": res.gpu})
        fn = tune.with_parameters(bank_member, registry=registry, model=spec.space.trainable,
                                  max_epochs=spec.space.max_epochs)
        return tune.with_resources(name_trainable(fn, name), {"cpu": MEMBER_CPU})
    if fn is None:
        # head-only ResNet trials without augmentation train on the backbone's features, computed once
        features = features_for_space(spec.space.trainable, spec.space.space, data,
                                      say=lambda t: print(t, flush=True))
        fn = build_trainable(spec.space.entry, data, spec.space.max_epochs, features=features)
    fn = name_trainable(fn, name)
    return tune.with_resources(fn, {"cpu": res.cpu, "gpu": res.gpu})


def _trial_name(prefix: str, trial) -> str:
    """``<sweep name>_<trial id>``: what the progress table and the dashboard show."""
    return f"{prefix}_{trial.trial_id}"


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


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

    if spec.scheduler.keeps_every_checkpoint:
        return tune.CheckpointConfig(num_to_keep=None)
    return tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute=spec.space.metric,
                                 checkpoint_score_order=spec.space.mode)


def _callbacks(spec: SweepSpec, name: str, storage: str, listeners: list, tensorboard: bool) -> tuple[Any, list]:
    """Tune's ``stop`` and every callback of a sweep, in one place: the stopping rules' (stopping.json), the
    live view's ``listeners``, the result files', and, unless ``tensorboard``, a stand-in that keeps Ray from
    adding its TensorBoard logger (Ray adds one whenever tensorboardX is installed, and it writes every result
    of every trial to an event file)."""
    from hwk4tune.store.records import join
    from hwk4tune.tune.result_files import result_loggers
    from hwk4tune.tune.stoppers import build_stop
    from hwk4tune.tune.tensorboard import NoTensorBoard

    # stop: {"epoch": max_epochs}, or with `stop:` rules a stopper that also ends trials there, and the
    # callback noting why each trial ended (stopping.json; its state resumes with the sweep)
    stop, stop_callbacks = build_stop(spec, join(storage, name))
    return stop, stop_callbacks + listeners + ([] if tensorboard else [NoTensorBoard()]) + result_loggers()


def _run_config(spec: SweepSpec, name: str, storage: str, verbose: bool, stop_and_callbacks: tuple[Any, list]):
    """Where the sweep goes, when its trials stop, its callbacks, the checkpoints kept, the failures allowed
    and the progress table."""
    from ray import tune

    stop, callbacks = stop_and_callbacks
    return tune.RunConfig(
        name=name,
        storage_path=storage,
        # The trainable ends by itself after max_epochs; saying so to Tune makes the last result a STOP
        # rather than a scheduler's decision (Ray's synchronous HyperBand otherwise PAUSEs a trial at its
        # last epoch and can leave it PAUSED when the sweep ends).
        stop=stop,
        callbacks=callbacks,
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


def fit(tuner: Any) -> FitOutcome:
    """Run the Tuner with worker noise filtered; a second Ctrl-C raises KeyboardInterrupt (Tune stopped at
    once; its last saved state resumes).

    Tune's newer output engine ignores a CLIReporter and prints a box per trial start and end: too much for
    sweeps of many short trials (RAY_AIR_NEW_OUTPUT=1 in the environment brings it back). Forced snapshots
    when trials checkpoint every (short) epoch are expected here, not a problem worth Tune's warning."""
    with environ_defaults(**FIT_ENV), _interrupt_marker() as first_ctrl_c, \
            quiet_early_stops() as quiet:  # -q never lets the noise through
        tuner.fit()
        # through Ray Client, Tune's loop (and its SIGINT handler) is on the cluster: ours stays, untouched
        return FitOutcome(interrupted=first_ctrl_c() and not through_ray_client(), hidden_tracebacks=quiet.hidden)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupt_marker() -> Iterator[Callable[[], bool]]:
    """Our SIGINT handler for the block, the handlers found put back after it; yields "was Tune interrupted?".

    Tune catches the first SIGINT itself (it stops the trials, saves its state and returns normally) and then
    puts back the handler it found: ours, a marker that raises KeyboardInterrupt. So the handler installed
    after the fit tells whether the sweep was interrupted, and a second Ctrl-C stops at once. Tune also takes
    SIGUSR1 and never gives it back: both are restored here. Off the main thread no handler can be set, and
    no sweep is taken for interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    taken = [s for s in (signal.SIGINT, getattr(signal, "SIGUSR1", None)) if s is not None]
    previous = {s: h for s in taken if (h := signal.getsignal(s)) is not None}  # None: set outside Python
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    try:
        yield lambda: signal.getsignal(signal.SIGINT) is _raise_keyboard_interrupt
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
