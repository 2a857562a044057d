"""Ray Tune's callback interface, turned into named trial events that code outside tune/ implements without
naming Ray.

:class:`TrialListener` is a ``ray.tune.Callback``: Tune calls its hooks in the driver, after it has each
result. It hands each one on as a plain event (:meth:`~TrialListener.sweep_started`,
:meth:`~TrialListener.trial_started`, :meth:`~TrialListener.trial_reported`,
:meth:`~TrialListener.checkpoint_saved`, :meth:`~TrialListener.trial_ended`,
:meth:`~TrialListener.sweep_ended`). The live view's Optuna mirror (:class:`hwk4tune.live.mirror.OptunaMirror`)
and its closing line (:class:`hwk4tune.live.reopen.ReopenHint`) subclass it: the journal writing stays in
live/, the Ray side here. Tune pickles its callbacks with the experiment: a subclass keeps only picklable
state (or says what to keep with ``__getstate__``).
"""

from __future__ import annotations

from typing import Any

from ray.tune import Callback

__all__ = ["TrialListener"]


class TrialListener(Callback):
    """A Tune callback whose events are plain methods; each does nothing unless a subclass says otherwise.

    ``trial`` is Tune's trial: a subclass reads its public attributes only (``trial_id``, ``config``,
    ``last_result``, ``status``)."""

    # ------------------------------------------------------------------------------ the events

    def sweep_started(self, stop: Any) -> None:
        """The sweep starts (fresh or resumed); ``stop`` is Tune's stopping criteria (a dict or a Stopper)."""

    def trial_started(self, trial) -> None:
        """A trial starts, or starts again (resumed, restarted after a failure, PBT's exploit)."""

    def trial_reported(self, trial, result: dict) -> None:
        """A trial reported ``result`` (one epoch's metrics)."""

    def checkpoint_saved(self, trial, path: str | None) -> None:
        """A trial saved a checkpoint at ``path`` (None where Tune gives none)."""

    def trial_ended(self, trial, error: str | None) -> None:
        """A trial ended: ``error`` is None when it completed, else its error file (or ``"error"``)."""

    def sweep_ended(self) -> None:
        """The sweep ends: every trial done, or stopped (Ctrl-C)."""

    # ------------------------------------------------------------------------------ Tune's hooks

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info) -> None:
        self.sweep_started(stop)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.trial_started(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.trial_reported(trial, result)

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        path = getattr(checkpoint, "path", None)
        self.checkpoint_saved(trial, str(path) if path else None)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.trial_ended(trial, None)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.trial_ended(trial, trial.error_file or "error")

    def on_experiment_end(self, trials, **info) -> None:
        self.sweep_ended()
