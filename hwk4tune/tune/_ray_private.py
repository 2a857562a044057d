"""Every private name of Ray, Optuna and nevergrad that hwk4tune relies on, and only here.

Each use is one small function or class factory whose docstring says what it reaches into, the version it
was read from, and the public API that would replace it. The rest of hwk4tune calls these and names no private
symbol of those libraries (``tests/test_ray_private.py`` checks both that and :func:`missing`).

Read from: Ray 2.60.0, Optuna 5.1.0 (nevergrad 1.0.12: no private name needed). When one of them is
upgraded, :func:`missing` names each symbol that is gone; the feature that uses it is then to be re-read
against the new source.

Importing this module imports neither Ray nor Optuna: :mod:`hwk4tune.live` uses it without Ray. Classes
built on a private Ray class are made on first use (:func:`functools.cache`); the two whose objects Tune
pickles (:class:`GivenBracket`, :class:`PlannedTrialIterator`) are module attributes made on first lookup,
so pickle finds them by name.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import itertools
from typing import Any, Callable

READ_FROM = {"ray": "2.60.0", "optuna": "5.1.0"}

# (module, symbol, private attribute of that symbol or None): every private thing used below
SYMBOLS: list[tuple[str, str, str | None]] = [
    ("ray.tune.schedulers.hyperband", "_Bracket", None),
    ("ray.tune.schedulers.hyperband", "_Bracket", "_all_trials"),
    ("ray.tune.schedulers.hyperband", "_Bracket", "_n0"),
    ("ray.tune.schedulers.hyperband", "_Bracket", "_halves"),
    ("ray.tune.schedulers", "HyperBandScheduler", "_create_bracket"),
    ("ray.tune.schedulers", "HyperBandScheduler", "_process_bracket"),
    ("ray.tune.schedulers", "HyperBandScheduler", "_hyperbands"),
    ("ray.tune.execution.tune_controller", "TrialRunnerWrapper", "_tune_controller"),
    ("ray.tune.execution.tune_controller", "TuneController", "_mark_trial_to_checkpoint"),
    ("ray.tune.execution.tune_controller", "TuneController", "_set_trial_status"),
    ("ray.tune.search", "BasicVariantGenerator", "_live_trials"),
    ("ray.tune.search", "BasicVariantGenerator", "_uuid_prefix"),
    ("ray.tune.search", "BasicVariantGenerator", "_total_samples"),
    ("ray.tune.search", "BasicVariantGenerator", "_random_state"),
    ("ray.tune.search", "BasicVariantGenerator", "_iterators"),
    ("ray.tune.search", "BasicVariantGenerator", "_trial_generator"),
    ("ray.tune.search.basic_variant", "_TrialIterator", None),
    ("ray.tune.experiment", "_convert_to_experiment_list", None),
    ("ray.tune.schedulers", "PopulationBasedTraining", "_exploit"),
    ("ray.tune.schedulers", "PopulationBasedTraining", "_hyperparam_mutations"),
    ("ray.tune.search.hyperopt", "HyperOptSearch", "_convert_categories_to_indices"),
    ("ray.tune.logger", "JsonLoggerCallback", "_restore_from_remote"),
    ("ray.tune.logger", "CSVLoggerCallback", "_restore_from_remote"),
    ("ray.tune", "CLIReporter", "_current_best_trial"),
    ("ray.tune", "CLIReporter", "_parameter_columns"),
    ("ray.tune", "CLIReporter", "_sort_by_metric"),
    ("ray.train._internal.session", "_TrainingResult", None),
    ("ray.train._internal.checkpoint_manager", "_CheckpointManager", "_checkpoint_results"),
    ("ray.train._internal.checkpoint_manager", "_CheckpointManager", "_latest_checkpoint_result"),
    ("optuna.trial", "FrozenTrial", "_trial_id"),
    ("ray.tune.execution.tune_controller", "TuneController", "_schedule_trial_save"),
    ("ray.train._internal.storage", "StorageContext", "experiment_driver_staging_path"),
]


# ------------------------------------------------------------------------------------------ the check


def _has_attribute(cls: type, attr: str) -> bool:
    """``cls`` (or a base) defines ``attr`` as a class attribute, or assigns ``self.<attr>`` in its source."""
    if hasattr(cls, attr):
        return True
    for klass in inspect.getmro(cls):
        with contextlib.suppress(OSError, TypeError):
            if f"self.{attr} =" in inspect.getsource(klass) or f"self.{attr}:" in inspect.getsource(klass):
                return True
    return False


def _installed(package: str) -> str:
    """The installed version of ``package`` ('not installed' when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _problem(module: str, name: str, attr: str | None) -> str | None:
    """Why one entry of :data:`SYMBOLS` cannot be used in the installed version, or None when it can."""
    package = module.split(".")[0]
    read = READ_FROM.get(package, "?")
    where = f"{module}.{name}" + (f".{attr}" if attr else "")
    try:
        symbol = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        return f"{where}: missing in {package} {_installed(package)} (read from {read}): {exc}"
    if attr is not None and not (inspect.isclass(symbol) and _has_attribute(symbol, attr)):
        return f"{where}: missing in {package} {_installed(package)} (read from {read})"
    return None


def missing() -> list[str]:
    """One line per private symbol this module relies on that the installed Ray / Optuna lacks, naming the
    symbol and the installed version; empty when all are there."""
    return [line for entry in SYMBOLS if (line := _problem(*entry)) is not None]


# ------------------------------------------------------------------------------------------ HyperBand


@functools.cache
def hyperband_with_hooks() -> type:
    """``HyperBandScheduler`` with its private bracket hooks turned into named ones (Ray 2.60.0).

    Overrides ``_create_bracket`` (calls :meth:`bracket_created`) and ``_process_bracket`` (calls
    :meth:`decide_bracket` with Ray's decision as a function), and exposes ``_hyperbands`` as
    :meth:`brackets` and ``_process_bracket`` as :meth:`process_bracket`. Public replacement: none; a
    HyperBand written on the public ``TrialScheduler`` interface alone would drop all of this.
    """
    from ray.tune.schedulers import HyperBandScheduler

    class HookedHyperBand(HyperBandScheduler):
        def bracket_created(self, bracket) -> None:
            """Called with each new bracket."""

        def decide_bracket(self, tune_controller, bracket, ray_decision: Callable[[], str]) -> str:
            """The action for a bracket whose trials reached its milestone; by default Ray's."""
            return ray_decision()

        def process_bracket(self, tune_controller, bracket) -> str:
            """Halve ``bracket`` now (Ray's ``_process_bracket``, with :meth:`decide_bracket`)."""
            return self._process_bracket(tune_controller, bracket)

        def brackets(self) -> list:
            """Every bracket made so far, None where a band has none (Ray's ``_hyperbands``)."""
            return [bracket for band in self._hyperbands for bracket in band]

        def _create_bracket(self, s: int):
            bracket = super()._create_bracket(s)
            self.bracket_created(bracket)
            return bracket

        def _process_bracket(self, tune_controller, bracket) -> str:
            parent = super()._process_bracket
            return self.decide_bracket(tune_controller, bracket, lambda: parent(tune_controller, bracket))

    return HookedHyperBand


def _given_bracket_class() -> type:
    """A subclass of Ray's private ``_Bracket`` (Ray 2.60.0) that counts itself full once given ``_n0``
    trials (``_all_trials``, finished ones too) instead of once it holds ``_n0`` live ones. Public
    replacement: none (brackets are internal to ``HyperBandScheduler``)."""
    from ray.tune.schedulers.hyperband import _Bracket

    class GivenBracket(_Bracket):
        def filled(self) -> bool:
            return len(self._all_trials) >= self._n0

    GivenBracket.__module__ = __name__
    return GivenBracket


def make_bracket_count_given_trials(bracket) -> None:
    """Turn a bracket Ray just made into a :class:`GivenBracket` (swaps its ``__class__``: Ray's constructor
    and state stay, only ``filled()`` differs). Ray 2.60.0's ``_Bracket``; no public replacement."""
    bracket.__class__ = _lazy_class("GivenBracket")


def bracket_halvings_left(bracket) -> int:
    """How many times ``bracket`` still halves: Ray 2.60.0's private ``_Bracket._halves``. No public
    replacement."""
    return bracket._halves


def bracket_trials(bracket) -> list:
    """Every trial ever given to ``bracket``, finished ones too: Ray 2.60.0's ``_Bracket._all_trials``
    (``current_trials()`` is the public view of the live ones only)."""
    return list(bracket._all_trials)


def mark_trial_to_checkpoint(tune_controller, trial) -> None:
    """Have Tune save ``trial``'s status with its next experiment state: Ray 2.60.0's private
    ``TuneController._mark_trial_to_checkpoint``, reached through the ``TrialRunnerWrapper`` schedulers get
    (its private ``_tune_controller``). Public replacement: none; Ray does it itself for trials with an actor."""
    controller = getattr(tune_controller, "_tune_controller", tune_controller)
    controller._mark_trial_to_checkpoint(trial)


def set_trial_status(tune_controller, trial, status: str) -> None:
    """Set a trial's status as Tune's controller does (its per-status sets follow): Ray 2.60.0's private
    ``TuneController._set_trial_status``, through the ``TrialRunnerWrapper``. Used to put a restored trial that
    had reached a HyperBand milestone back to PAUSED (it has no actor yet). Public replacement: none
    (``pause_trial`` needs a running actor)."""
    controller = getattr(tune_controller, "_tune_controller", tune_controller)
    controller._set_trial_status(trial, status)


def variant_generator_live_trials(generator) -> set:
    """The trials a ``BasicVariantGenerator`` counts against its ``max_concurrent``: Ray 2.60.0's private
    ``_live_trials`` (the set itself, to add to or discard from). Public replacement: none (a
    ``ConcurrencyLimiter`` has the public ``live_trials``, but PBT needs a ``BasicVariantGenerator``)."""
    return generator._live_trials


# ------------------------------------------------------------------------------------------ planned variants


def _planned_trial_iterator_class() -> type:
    """A subclass of Ray's private ``_TrialIterator`` (Ray 2.60.0, ``ray.tune.search.basic_variant``) that
    makes one trial per planned flat config. Public replacement: ``BasicVariantGenerator(points_to_evaluate)``
    would do it, but its trials would lose their parameters in their names and ``evaluated_params``."""
    from ray.tune.search.basic_variant import _TrialIterator

    class PlannedTrialIterator(_TrialIterator):
        def __init__(self, planned: list, to_trial_spec: Callable, **kwargs):
            super().__init__(num_samples=len(planned), **kwargs)
            self.planned = list(planned)
            self.to_trial_spec = to_trial_spec

        def __next__(self):
            if not self.planned:
                raise StopIteration
            resolved, config = self.to_trial_spec(self.planned.pop(0))
            spec = copy.deepcopy(self.unresolved_spec)
            spec["config"] = {**spec.get("config", {}), **config}
            return self.create_trial(resolved, spec)

    PlannedTrialIterator.__module__ = __name__
    return PlannedTrialIterator


def add_planned_trials(generator, experiments, planned: list, to_trial_spec: Callable) -> None:
    """Chain one :class:`PlannedTrialIterator` per experiment onto a ``BasicVariantGenerator``, as its
    ``add_configurations`` chains its own: uses Ray 2.60.0's private ``_convert_to_experiment_list`` and the
    generator's ``_uuid_prefix``, ``_total_samples``, ``_random_state``, ``_iterators``, ``_trial_generator``.
    ``to_trial_spec(flat) -> (resolved vars, nested config)`` must be picklable (Tune saves the iterators).
    Public replacement: ``points_to_evaluate`` (see :func:`_planned_trial_iterator_class`)."""
    from ray.tune.experiment import _convert_to_experiment_list

    for experiment in _convert_to_experiment_list(experiments):
        iterator = _lazy_class("PlannedTrialIterator")(
            planned, to_trial_spec, uuid_prefix=generator._uuid_prefix, unresolved_spec=experiment.spec,
            start=generator._total_samples, random_state=generator._random_state)
        generator._total_samples += len(planned)
        generator._iterators.append(iterator)
        generator._trial_generator = itertools.chain(generator._trial_generator, iterator)


# ------------------------------------------------------------------------------------------ PBT, HyperOpt


@functools.cache
def pbt_with_exploit_hook() -> type:
    """``PopulationBasedTraining`` whose private ``_exploit`` (Ray 2.60.0) runs inside
    :meth:`exploiting` (a context manager given the config cloned), and whose private
    ``_hyperparam_mutations`` is the property :attr:`mutations`. Public replacement: none (PBT's
    ``custom_explore_fn`` runs after Ray's own explore, which fails on a key a config lacks)."""
    from ray.tune.schedulers import PopulationBasedTraining

    class ExploitHookPBT(PopulationBasedTraining):
        @property
        def mutations(self) -> dict:
            return self._hyperparam_mutations

        @mutations.setter
        def mutations(self, value: dict) -> None:
            self._hyperparam_mutations = value

        def exploiting(self, config: dict):
            """Context around Ray's exploit of a trial that clones ``config``."""
            return contextlib.nullcontext()

        def _exploit(self, tune_controller, trial, trial_to_clone) -> None:
            with self.exploiting(trial_to_clone.config):
                super()._exploit(tune_controller, trial, trial_to_clone)

    return ExploitHookPBT


@functools.cache
def hyperopt_with_start_point_hook() -> type:
    """``HyperOptSearch`` whose private ``_convert_categories_to_indices`` (Ray 2.60.0: turns a start
    point's categorical values into HyperOpt's indices) calls :meth:`categories_to_indices`. Public
    replacement: none for a space Ray did not convert itself."""
    from ray.tune.search.hyperopt import HyperOptSearch

    class StartPointHookHyperOpt(HyperOptSearch):
        def categories_to_indices(self, config: dict) -> None:
            """Turn ``config``'s categorical values into indices, in place; by default as Ray does."""
            super()._convert_categories_to_indices(config)

        def _convert_categories_to_indices(self, config) -> None:
            self.categories_to_indices(config)

    return StartPointHookHyperOpt


# ------------------------------------------------------------------------------------------ loggers, reporter


def logger_restoring_only_when_missing(base: type) -> type:
    """Ray's result logger ``base`` (``JsonLoggerCallback``, ``CSVLoggerCallback``) whose private
    ``_restore_from_remote`` (Ray 2.60.0: copy the storage's file over the staging one when a trial starts)
    runs only when the staging folder lacks the file. Public replacement: a ``LoggerCallback`` of our own
    writing the files (it would also need Ray's storage context to find the storage copy)."""
    from pathlib import Path

    class RestoringOnlyWhenMissing(base):
        def _restore_from_remote(self, file_name: str, trial) -> None:
            if not Path(trial.local_path, file_name).exists():
                super()._restore_from_remote(file_name, trial)

    return RestoringOnlyWhenMissing


@functools.cache
def reporter_with_best_trial_hook() -> type:
    """``tune.CLIReporter`` whose private ``_current_best_trial`` (Ray 2.60.0) goes through
    :meth:`best_trial_view`, with its private ``_parameter_columns`` as :attr:`parameter_columns` and
    ``_sort_by_metric`` as :meth:`sort_terminated_by_metric`. Public replacement: none (the reporter's
    public interface is ``report``/``should_report`` and the constructor's arguments)."""
    from ray.tune import CLIReporter

    class BestTrialHookReporter(CLIReporter):
        @property
        def parameter_columns(self):
            """The parameter columns (a list or a name -> header mapping)."""
            return self._parameter_columns

        def sort_terminated_by_metric(self, on: bool) -> None:
            """Whether Ray sorts (and, truncating, keeps) terminated trials by the metric in this report."""
            self._sort_by_metric = on

        def best_trial_view(self, best, metric):
            """What the "Current best trial" line shows for Ray's pick ``best``; by default ``best``."""
            return best

        def _current_best_trial(self, trials):
            best, metric = super()._current_best_trial(trials)
            return (best, metric) if best is None else (self.best_trial_view(best, metric), metric)

    return BestTrialHookReporter


# ------------------------------------------------------------------------------------------ checkpoint bookkeeping


def checkpoint_results(manager) -> list:
    """The checkpoints a trial's ``_CheckpointManager`` keeps (Ray 2.60.0's private ``_checkpoint_results``
    of ``ray.train._internal.checkpoint_manager``). Public replacement: none for Tune's saved state
    (``Result.best_checkpoints`` is the read-only view of a finished run)."""
    return list(manager._checkpoint_results)


def latest_checkpoint_result(manager):
    """The newest checkpoint a trial's ``_CheckpointManager`` recorded, or None (Ray 2.60.0's private
    ``_latest_checkpoint_result``; ``Result.checkpoint`` is the public view of a finished run)."""
    return getattr(manager, "_latest_checkpoint_result", None)


def set_checkpoint_results(manager, results: list, latest) -> None:
    """Replace what a trial's ``_CheckpointManager`` keeps (Ray 2.60.0's private ``_checkpoint_results``,
    ``_latest_checkpoint_result``). No public replacement."""
    manager._checkpoint_results = list(results)
    manager._latest_checkpoint_result = latest


def checkpoint_result(checkpoint, metrics: dict):
    """A checkpoint with its metrics as ``_CheckpointManager`` records it: Ray 2.60.0's private
    ``ray.train._internal.session._TrainingResult``. No public replacement."""
    from ray.train._internal.session import _TrainingResult

    return _TrainingResult(checkpoint=checkpoint, metrics=metrics)


# ------------------------------------------------------------------------------------------ Optuna


def optuna_trial(study, frozen):
    """A live ``optuna.Trial`` of a running trial that ``study`` lists as ``frozen``, to report to and tell:
    needs the storage's trial id, Optuna 5.1.0's private ``FrozenTrial._trial_id``. Public replacement:
    ``study.tell(frozen.number, ...)`` ends it, but reporting intermediate values needs the ``Trial``."""
    import optuna

    return optuna.Trial(study, frozen._trial_id)


# ------------------------------------------------------------------------------------------ the simulated replay


@functools.cache
def controller_hooks() -> type:
    """A base class for a controller of our own (:class:`hwk4tune.tune.simulated_replay.Simulation`) that
    answers the private calls Ray 2.60.0's schedulers make on Tune's ``TuneController``: PBT's
    ``_schedule_trial_save(trial, result=None)`` (goes to :meth:`save_trial`, which returns the checkpoint
    PBT keeps and later clones) and ``_mark_trial_to_checkpoint(trial)`` (:func:`mark_trial_to_checkpoint`;
    goes to :meth:`note_trial`). Public replacement: none (schedulers take the controller itself)."""

    class ControllerHooks:
        def save_trial(self, trial, result=None):
            raise NotImplementedError

        def note_trial(self, trial) -> None:
            """Nothing to note by default."""

        def _schedule_trial_save(self, trial, result=None):
            return self.save_trial(trial, result)

        def _mark_trial_to_checkpoint(self, trial) -> None:
            self.note_trial(trial)

    return ControllerHooks


@functools.cache
def _staged_in_experiment_class() -> type:
    from ray.train._internal.storage import StorageContext

    class StagedInExperiment(StorageContext):
        @property
        def experiment_driver_staging_path(self) -> str:
            return self.experiment_fs_path

    return StagedInExperiment


def stage_trial_in_experiment_folder(trial) -> None:
    """Have ``trial``'s driver-side files (PBT's ``pbt_global.txt`` and ``pbt_policy_<id>.txt``) go straight
    into its experiment folder: Ray 2.60.0's ``StorageContext`` (``ray.train._internal.storage``) stages them
    under Ray's session folder, which needs ``ray.init``; a simulated replay starts no Ray. Swaps the class of
    the trial's own copy of its storage context. Public replacement: none."""
    trial.storage.__class__ = _staged_in_experiment_class()


# ------------------------------------------------------------------------------------------ lookup for pickle

_LAZY_CLASSES: dict[str, Callable[[], type]] = {
    "GivenBracket": _given_bracket_class,
    "PlannedTrialIterator": _planned_trial_iterator_class,
}


def _lazy_class(name: str) -> type:
    """The class ``name`` of :data:`_LAZY_CLASSES`, made once and kept as a module attribute (pickle finds
    Tune's saved brackets and trial iterators by module and name)."""
    if name not in globals():
        cls = _LAZY_CLASSES[name]()
        cls.__qualname__ = cls.__name__ = name
        globals()[name] = cls
    return globals()[name]


def __getattr__(name: str) -> Any:
    if name in _LAZY_CLASSES:
        return _lazy_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------ version differences


def load_tune_json(text: str):
    """Tune's JSON with its cloudpickled objects (an ``experiment_state-*.json`` trial's metadata), decoded with
    ``ray.tune.utils.serialization.TuneFunctionDecoder``: Ray 2.56+ unpickles only when given
    ``allow_cloudpickle=True``, Ray 2.55 has no such argument and always does. Public replacement: none
    (``Tuner.restore`` reads the file itself)."""
    import json

    from ray.tune.utils.serialization import TuneFunctionDecoder

    if "allow_cloudpickle" in inspect.signature(TuneFunctionDecoder.__init__).parameters:
        return json.loads(text, cls=TuneFunctionDecoder, allow_cloudpickle=True)
    return json.loads(text, cls=TuneFunctionDecoder)
