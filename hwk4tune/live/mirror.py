"""Every trial of a Ray Tune sweep, whatever its searcher and scheduler, mirrored into an Optuna study.

:class:`OptunaMirror` is a Ray Tune callback (a :class:`~hwk4tune.tune.callbacks.TrialListener`, which holds
the Ray side: it runs in the driver, after Tune has each result; it never sits on a trial's path). It writes to
an Optuna journal file (``optuna.journal``) through ask and tell, so the study's times are the trials' real
ones:

- a trial starts: ``ask`` with its configuration as fixed parameters, each with the distribution its space
  parameter has (:mod:`hwk4tune.live.distributions`; constants and parameters absent from the trial's
  configuration are left out); user attributes ``ray_trial_id``, ``strategy``;
- each result: ``report(metric, epoch)``, once per epoch; at the end, the last checkpoint's path: user
  attribute ``checkpoint``;
  a configuration that changed under the trial (PBT, PB2): user attribute ``config_changes``
  (``[{after_epoch, changes: {name: [old, new]}}]``; the trial goes on from the epoch of the checkpoint it
  cloned, so its next intermediate value may be several epochs on);
- the end: ``COMPLETE`` with the last value of the metric when the trial ran all its epochs (or ended itself,
  e.g. diverged), ``PRUNED`` when a scheduler stopped it earlier, ``FAIL`` on an error (user attribute
  ``error``).

The study is keyed by ``ray_trial_id``: a resumed sweep continues it, adding no trial twice. Whatever goes
wrong in here, the sweep goes on: the first error is printed once, and the mirror stops.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import warnings
from pathlib import Path
from typing import Any

from hwk4tune.space import Param, Space
from hwk4tune.tune import _ray_private
from hwk4tune.tune.callbacks import TrialListener

__all__ = ["OptunaMirror", "open_storage", "reset_study", "TRIAL_ID_ATTR"]

TRIAL_ID_ATTR = "ray_trial_id"


def open_storage(journal: str | Path):
    """A ``JournalStorage`` over the journal file (created when missing)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(journal).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(journal)))


def reset_study(journal: str | Path, study_name: str) -> None:
    """Delete ``study_name`` from the journal if it is there: a sweep started afresh under a name a study
    already has (a comparison's interrupted run, run again) starts an empty study."""
    import optuna

    if not Path(journal).is_file():
        return
    try:
        with _quiet_optuna():
            storage = open_storage(journal)
            if study_name in optuna.get_all_study_names(storage):
                optuna.delete_study(study_name=study_name, storage=storage)
    except Exception:  # noqa: BLE001 - the mirror reports a journal it cannot use, once, when it opens it
        pass


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's INFO lines ("Trial 3 finished with value…") and warnings are noise in a Tune run."""
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _epoch(result: dict) -> int | None:
    value = result.get("epoch", result.get("training_iteration"))
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class OptunaMirror(TrialListener):
    """Writes every trial of a sweep into the Optuna study ``study_name`` of ``journal`` (see module doc).

    ``space``: the sweep's space (parameter name -> Param | constant | nested group); ``max_epochs``
    (below it a trial that ends without error was stopped by a scheduler) comes from Tune's ``stop`` when
    not given.
    """

    def __init__(self, journal: str | Path, study_name: str, space: Space, *, metric: str, mode: str,
                 label: str = "", max_epochs: int | None = None):
        self.journal = str(journal)
        self.study_name = study_name
        self.params: dict[str, Param] = space.params
        self.label = label
        self.metric, self.mode, self.max_epochs = metric, mode, max_epochs
        self._reset()

    def _reset(self) -> None:
        self._study = None
        self._trials: dict[str, Any] = {}  # ray trial id -> optuna Trial (running) or None (finished)
        self._steps: dict[str, set[int]] = {}
        self._configs: dict[str, dict] = {}
        self._changes: dict[str, list] = {}
        self._last_checkpoint: dict[str, str] = {}
        self._disabled = False

    # Tune pickles its callbacks with the experiment (tuner.pkl): keep the open study out of it.
    def __getstate__(self) -> dict:
        keep = ("journal", "study_name", "params", "label", "metric", "mode", "max_epochs")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    # ---------------------------------------------------------------------------------- Tune hooks

    def sweep_started(self, stop) -> None:
        if self.max_epochs is None and isinstance(stop, dict):
            self.max_epochs = stop.get("epoch") or stop.get("training_iteration")
        self._guard(self._open)

    def trial_started(self, trial) -> None:
        self._guard(self._ensure, trial)

    def trial_reported(self, trial, result: dict) -> None:
        self._guard(self._result, trial, result)

    def checkpoint_saved(self, trial, path: str | None) -> None:
        self._guard(self._checkpoint, trial, path)

    def trial_ended(self, trial, error: str | None) -> None:
        self._guard(self._finish, trial, error)

    def create_study(self) -> None:
        """Create (or load) the study now rather than at the first trial; never raises."""
        self._guard(self._open)

    # ---------------------------------------------------------------------------------- the work

    def _guard(self, fn, *args) -> None:
        if self._disabled:
            return
        try:
            with _quiet_optuna():
                fn(*args)
        except Exception as exc:  # noqa: BLE001 - the live view must never fail the sweep
            self._disabled = True
            print(f"hwk4tune: the Optuna live view ({self.journal}) stopped: {type(exc).__name__}: {exc}; "
                  "the sweep goes on without it", file=sys.stderr, flush=True)

    def _open(self):
        if self._study is not None:
            return self._study
        import optuna

        metric, mode = self.metric, self.mode or "max"
        storage = open_storage(self.journal)
        self._study = optuna.create_study(
            storage=storage, study_name=self.study_name, load_if_exists=True,
            direction="maximize" if mode == "max" else "minimize",
            sampler=optuna.samplers.RandomSampler(),  # every value is fixed by the trial: nothing to sample
        )
        if metric and self._study.metric_names != [metric]:
            self._study.set_metric_names([metric])
        if self.label and self._study.user_attrs.get("strategy") != self.label:
            self._study.set_user_attr("strategy", self.label)
        for frozen in self._study.get_trials(deepcopy=False):
            ray_id = frozen.user_attrs.get(TRIAL_ID_ATTR)
            if ray_id is None:
                continue
            if frozen.state.is_finished():
                self._trials[ray_id] = None
            else:
                self._trials[ray_id] = _ray_private.optuna_trial(self._study, frozen)
                self._steps[ray_id] = set(frozen.intermediate_values)
                self._changes[ray_id] = list(frozen.user_attrs.get("config_changes", []))
        return self._study

    def _ensure(self, trial):
        """The Optuna trial of a Ray trial, asked for on first sight; None once it is finished."""
        ray_id = trial.trial_id
        if ray_id in self._trials:
            return self._trials[ray_id]
        study = self._open()
        config = _flatten(trial.config)
        fixed, distributions = {}, {}
        for name, param in self.params.items():
            if name in config:  # a conditional parameter that is off is simply absent
                distributions[name], fixed[name] = _distribution(param, config[name])
        study.enqueue_trial(fixed, user_attrs={TRIAL_ID_ATTR: ray_id, "strategy": self.label})
        optuna_trial = study.ask(distributions)
        self._trials[ray_id] = optuna_trial
        self._steps[ray_id] = set()
        self._configs[ray_id] = config
        self._changes[ray_id] = []
        return optuna_trial

    def _result(self, trial, result: dict) -> None:
        optuna_trial = self._ensure(trial)
        if optuna_trial is None:
            return
        ray_id = trial.trial_id
        epoch = _epoch(result)
        self._note_config(trial, optuna_trial, epoch)
        value = _number(result.get(self.metric)) if self.metric else None
        if epoch is None or value is None or epoch in self._steps[ray_id]:
            return  # PBT's exploit may repeat an epoch: the first report of it stays
        optuna_trial.report(value, epoch)
        self._steps[ray_id].add(epoch)

    def _note_config(self, trial, optuna_trial, epoch) -> None:
        ray_id = trial.trial_id
        config = _flatten(trial.config)
        before = self._configs.get(ray_id)
        self._configs[ray_id] = config
        if before is None or before == config:
            return
        changed = {k: [before.get(k), v] for k, v in config.items() if before.get(k) != v}
        self._changes[ray_id].append({"after_epoch": epoch, "changes": _jsonable(changed)})
        optuna_trial.set_user_attr("config_changes", self._changes[ray_id])

    def _checkpoint(self, trial, path: str | None) -> None:
        if path:  # written once, when the trial ends: one journal write less per epoch
            self._last_checkpoint[trial.trial_id] = str(path)

    def _finish(self, trial, error: str | None) -> None:
        from optuna.trial import TrialState

        optuna_trial = self._ensure(trial)
        if optuna_trial is None:
            return  # finished before (a resumed sweep's errored trial keeps its first end)
        study = self._open()
        last = trial.last_result or {}
        epoch = _epoch(last)
        value = _number(last.get(self.metric)) if self.metric else None
        if last.get("train_status"):
            optuna_trial.set_user_attr("train_status", last["train_status"])
        if trial.trial_id in self._last_checkpoint:
            optuna_trial.set_user_attr("checkpoint", self._last_checkpoint.pop(trial.trial_id))
        if error is not None:
            optuna_trial.set_user_attr("error", str(error))
            study.tell(optuna_trial, state=TrialState.FAIL)
        elif self.max_epochs and epoch is not None and epoch < self.max_epochs and \
                last.get("train_status") != "diverged":
            study.tell(optuna_trial, state=TrialState.PRUNED)  # Optuna keeps the last reported value
        elif value is None:
            study.tell(optuna_trial, state=TrialState.FAIL)
        else:
            study.tell(optuna_trial, value)
        self._trials[trial.trial_id] = None


def _distribution(param: Param, value: Any):
    from hwk4tune.live.distributions import to_optuna

    return to_optuna(param, value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (type(None), bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return repr(value)
