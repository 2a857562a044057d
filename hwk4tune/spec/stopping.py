"""``stop:`` in a space or sweep file: when a trial, or the whole sweep, ends before its budget (no Ray).

- ``plateau: {metric, min_delta, patience}``: a trial ends once its metric has not improved on its best by
  at least ``min_delta`` for ``patience`` epochs in a row (Keras' EarlyStopping; the write-up's stopper is
  ``min_delta: 0.01, patience: 5``). Ray's ``TrialPlateauStopper`` judges the standard deviation of the
  last results instead, so hwk4tune has its own (:mod:`hwk4tune.tune.stoppers`).
- ``target: {metric, value}``: the sweep ends once any trial reaches ``value``.
- ``time_budget: 20m``: the sweep ends after this much wall-clock time (``90s``, ``20m``, ``1h``, ``1h30m``
  or a number of seconds); a resumed sweep gets what is left.

A sweep file's ``stop`` wins over its space's, key by key (a sweep may add a budget to a space's plateau).
Each rule is a method of the model that owns it (``problems``: the file is refused, each problem with its
line; ``notices``: legal but probably not meant).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from hwk4tune.spec.base import Strict
from hwk4tune.spec.pairing import RAY_RESULT_KEYS, Found

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: Any) -> float:
    """``90s``, ``20m``, ``1h``, ``1h30m`` or a number (seconds) -> seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 90s, 20m or 1h, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value).strip().replace(" ", ""))
        if not m or not any(m.groups()):
            raise ValueError(f"expected a duration such as 90s, 20m, 1h or 1h30m, got {value!r}")
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a time budget must be a positive duration, got {value!r}")
    return seconds


def _mode_of(metric: str | None, mode: str | None, space: Any) -> str | None:
    """The direction of ``metric``: given, else the space's (same metric), else the trainable's fact."""
    if mode:
        return mode
    metric = metric or space.metric
    if metric == space.metric:
        return space.mode
    facts = space.entry.metric(metric)
    return facts.mode if facts else None


def _metric_problems(key: str, metric: str, mode: str | None, space: Any) -> Found:
    found: Found = []
    entry = space.entry
    if entry.reports is not None and metric not in entry.reports + RAY_RESULT_KEYS:
        found.append((f"{key}.metric", f"trainable {space.trainable!r} does not report {metric!r} "
                      f"(it reports: {', '.join(entry.reports)})"))
    elif mode is None:
        found.append((f"{key}.mode", f"{metric!r} is not the space's metric and its direction is unknown: "
                      "give mode: max or mode: min"))
    elif (facts := entry.metric(metric)) and facts.mode and facts.mode != mode:
        found.append((f"{key}.mode", f"{metric} is better when {'higher' if facts.mode == 'max' else 'lower'}, "
                      f"but the mode is {mode}"))
    return found


class PlateauStop(Strict):
    """End a trial whose metric has not improved by ``min_delta`` for ``patience`` epochs in a row."""

    metric: str | None = Field(None, description="default: the space's metric")
    mode: Literal["max", "min"] | None = Field(None, description="default: the space's mode for its metric")
    min_delta: float = Field(0.01, ge=0, description="the smallest change that counts as an improvement")
    patience: int = Field(5, gt=0, description="epochs without improvement before the trial ends")

    def resolved(self, space: Any) -> tuple[str, str | None]:
        return self.metric or space.metric, _mode_of(self.metric, self.mode, space)

    def problems(self, space: Any, key: str = "stop.plateau") -> Found:
        metric, mode = self.resolved(space)
        return _metric_problems(key, metric, mode, space)

    def notices(self, p: Any) -> list[str]:
        out = []
        if self.patience >= p.max_epochs - 1:  # the earliest end is after patience + 1 epochs: the last one
            fix = (f"set patience to at most {p.max_epochs - 2}" if p.max_epochs >= 3
                   else f"raise max_epochs to at least {self.patience + 2}")
            out.append(f"stop.plateau.patience={self.patience} with max_epochs={p.max_epochs}: the plateau stopper "
                       f"can never end a trial early (the earliest it can is after patience + 1 epochs): {fix}")
        if getattr(p.scheduler, "explores_config", False):
            out.append(f"stop.plateau with {p.scheduler.name}: an exploit copies another trial's weights into a "
                       "trial, so its curve jumps and the patience counts epochs of two trials; each trial it "
                       f"ends also shrinks the population it perturbs")
        return out


class TargetStop(Strict):
    """End the sweep once any trial reaches ``value``."""

    metric: str | None = Field(None, description="default: the space's metric")
    mode: Literal["max", "min"] | None = Field(None, description="reached at >= value (max) or <= value (min)")
    value: float

    def resolved(self, space: Any) -> tuple[str, str | None]:
        return self.metric or space.metric, _mode_of(self.metric, self.mode, space)

    def problems(self, space: Any, key: str = "stop.target") -> Found:
        metric, mode = self.resolved(space)
        found = _metric_problems(key, metric, mode, space)
        facts = space.entry.metric(metric)
        if facts and mode is not None:
            low, high = facts.low, facts.high
            if not low <= self.value <= high:
                found.append((f"{key}.value", f"{metric} lies in [{low:g}, {high:g}], so a target of "
                              f"{self.value:g} is never reached"))
            elif (mode == "max" and self.value <= low) or (mode == "min" and self.value >= high):
                found.append((f"{key}.value", f"every trial reaches {metric} {'>=' if mode == 'max' else '<='} "
                              f"{self.value:g} at its first epoch: the target would end the sweep at once"))
        return found


class StopSpec(Strict):
    """``stop:`` — plateau (per trial), target and time budget (per sweep)."""

    plateau: PlateauStop | None = None
    target: TargetStop | None = None
    time_budget: float | None = Field(None, description="wall-clock budget of the sweep: 90s, 20m, 1h, 1h30m "
                                      "or seconds; a resumed sweep gets what is left")

    @field_validator("time_budget", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    def merged(self, over: StopSpec | None) -> StopSpec:
        """This block with ``over``'s keys winning (a sweep's stop over its space's)."""
        if over is None:
            return self
        return StopSpec(**{**self.model_dump(exclude_none=True), **over.model_dump(exclude_none=True)})

    @property
    def empty(self) -> bool:
        return self.plateau is None and self.target is None and self.time_budget is None

    def problems(self, space: Any, key: str = "stop") -> Found:
        found: Found = []
        if self.plateau:
            found += self.plateau.problems(space, f"{key}.plateau")
        if self.target:
            found += self.target.problems(space, f"{key}.target")
        return found

    def notices(self, p: Any) -> list[str]:
        return self.plateau.notices(p) if self.plateau else []


__all__ = ["StopSpec", "PlateauStop", "TargetStop", "parse_duration", "Plateau", "reached"]


class Plateau:
    """Keras-style patience: a value improves when it beats the best so far by at least ``min_delta``;
    after ``patience`` values in a row without improvement, :meth:`update` says stop."""

    def __init__(self, mode: str, min_delta: float, patience: int):
        self.sign = 1.0 if mode == "max" else -1.0
        self.min_delta, self.patience = min_delta, patience

    def update(self, state: dict, value: float) -> tuple[bool, bool]:
        """Fold ``value`` into ``state`` (``best``, ``bad``): (improved, stop)."""
        best = state.get("best")
        if best is None or self.sign * (value - best) >= self.min_delta:
            state["best"], state["bad"] = value, 0
            return True, False
        state["bad"] = state.get("bad", 0) + 1
        return False, state["bad"] >= self.patience


def reached(value: float, target: float, mode: str) -> bool:
    return value >= target if mode == "max" else value <= target
