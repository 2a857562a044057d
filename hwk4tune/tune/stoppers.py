"""A sweep's ``stop:`` rules on Ray Tune: one :class:`SweepStopper` (Tune's ``Stopper``) and its
:class:`StopRecorder` (a Tune ``Callback``) sharing one :class:`StopState`.

- The stopper ends a trial at ``max_epochs`` (as ``RunConfig(stop={"epoch": max_epochs})`` does), on a plateau
  or when it reaches the target, and the whole sweep once the target is reached or the time budget spent.
- The recorder notes why each trial ended (plateau, target, budget, error) in ``stopping.json`` in the
  experiment folder, written by the driver (:mod:`hwk4tune.results` reads it: the ``stop_reason`` column),
  and hands the state to Tune's experiment checkpoint (``get_state``/``set_state``): a resumed sweep goes
  on with the time it has left, and with each trial's best value and patience count.

Time counts while the driver runs the sweep: from the first step of Tune's loop to its end, summed over
runs and resumes (the time a killed driver lies dead does not count).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hwk4tune.spec.stopping import Plateau
from hwk4tune.spec.stopping import reached as _reached
from hwk4tune.store.stopping_file import StopState, read_stopping


def _epoch(result: dict) -> Any:
    return result.get("epoch", result.get("training_iteration"))


def _stopper_class():
    from ray.tune import Stopper

    class SweepStopper(Stopper):
        """Tune's view of the stop rules; every decision goes into the shared :class:`StopState`."""

        def __init__(self, state: StopState):
            self.state = state

        def __call__(self, trial_id: str, result: dict) -> bool:
            d, state = self.state.data, self.state
            epoch = _epoch(result)
            if isinstance(epoch, (int, float)) and epoch >= d["max_epochs"]:
                return True  # finished: not a decision of ours
            target = d["target"]
            if target and _finite(result.get(target["metric"])):
                if _reached(float(result[target["metric"]]), target["value"], target["mode"]):
                    if d["ended"] is None:
                        d["ended"], d["reached_by"] = "target", trial_id
                    state.note(trial_id, "target", epoch)
                    state.write()
                    return True
            plateau = d["plateau"]
            if plateau and _finite(result.get(plateau["metric"])):
                rule = Plateau(plateau["mode"], plateau["min_delta"], plateau["patience"])
                _, stop = rule.update(d["plateau_state"].setdefault(trial_id, {}), float(result[plateau["metric"]]))
                if stop:
                    state.note(trial_id, "plateau", epoch)
                    state.write()
                    return True
            return False

        def stop_all(self) -> bool:
            d, state = self.state.data, self.state
            state.tick()
            if d["ended"] is None and d["time_budget_s"] is not None and d["spent_s"] >= d["time_budget_s"]:
                d["ended"] = "budget"
                state.write()
            return d["ended"] is not None

    return SweepStopper


def _recorder_class():
    from ray.tune import Callback

    class StopRecorder(Callback):
        """Notes why each trial ended; saves and restores the shared state with Tune's experiment state."""

        def __init__(self, state: StopState):
            self.state = state

        def on_trial_complete(self, iteration, trials, trial, **info):
            ended = self.state.data["ended"]
            if ended is not None:
                self.state.note(trial.trial_id, ended, _epoch(trial.last_result or {}))
            else:  # ended by itself or by the scheduler: results.stop_reasons tells which from its epochs
                self.state.data.setdefault("completed", []).append(trial.trial_id)
            self.state.write()

        def on_trial_error(self, iteration, trials, trial, **info):
            self.state.note(trial.trial_id, "error", _epoch(trial.last_result or {}))
            self.state.write()

        def on_experiment_end(self, trials, **info):
            self.state.tick()
            ended = self.state.data["ended"]
            if ended is not None:  # trials the end of the sweep stopped (Tune reports no completion for them)
                done = set(self.state.data.get("completed", []))
                for t in trials:
                    if t.trial_id not in done:
                        self.state.note(t.trial_id, ended, _epoch(t.last_result or {}))
            self.state.write()

        def get_state(self) -> dict | None:
            self.state.tick()
            return {"data": json.loads(json.dumps(self.state.data, default=str))}

        def set_state(self, saved: dict) -> None:
            """Tune's checkpoint of the state; ``stopping.json`` may be newer (written at the end of a run)."""
            d = self.state.data
            d.update(saved["data"])
            on_disk = read_stopping(self.state.exp_dir) if self.state.exp_dir and "://" not in self.state.exp_dir else None
            if on_disk:
                d["spent_s"] = max(d["spent_s"], float(on_disk.get("spent_s") or 0))
                d["ended"] = d["ended"] or on_disk.get("ended")
                d["reached_by"] = d["reached_by"] or on_disk.get("reached_by")
                d["trials"] = {**(on_disk.get("trials") or {}), **d["trials"]}
            self.state._since = None

    return StopRecorder


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def build_stop(spec: Any, exp_dir: str) -> tuple[Any, list]:
    """``(stop, callbacks)`` for ``tune.RunConfig`` from a :class:`~hwk4tune.spec.SweepSpec`: the plain
    ``{"epoch": max_epochs}`` and no callback when the sweep has no ``stop:`` rules."""
    space = spec.space
    rules = spec.stopping
    if rules is None:
        return {"epoch": space.max_epochs}, []
    plateau = target = None
    if rules.plateau:
        metric, mode = rules.plateau.resolved(space)
        plateau = {"metric": metric, "mode": mode, "min_delta": rules.plateau.min_delta,
                   "patience": rules.plateau.patience}
    if rules.target:
        metric, mode = rules.target.resolved(space)
        target = {"metric": metric, "mode": mode, "value": rules.target.value}
    state = StopState(str(exp_dir), max_epochs=space.max_epochs, plateau=plateau, target=target,
                      time_budget_s=rules.time_budget)
    state.write()
    return _stopper_class()(state), [_recorder_class()(state)]
